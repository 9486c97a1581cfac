import Foundation
import JOSE
import KeyRing
import StoreTestSupport
import Testing

@Suite("command line", .serialized) struct CLITests {
    @Test("keys generate, list, rotate and retire drive the documented three-step rotation")
    func keyLifecycle() async throws {
        let scratch = ScratchDirectory()
        let keys = ["--keys-dir", scratch.path + "/keys"]
        let first = try await BrokerProcess.run(["keys", "generate", "--alg", "ES256", "--create"] + keys, directory: scratch.path)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("(active)"))
        let next = try await BrokerProcess.run(["keys", "generate", "--alg", "EdDSA"] + keys, directory: scratch.path)
        #expect(next.stdout.contains("(next)"))
        let listed = try await BrokerProcess.run(["keys", "list", "--json"] + keys, directory: scratch.path)
        let entries = try #require(try JSONParser().parse(Array(listed.stdout.utf8)).arrayValue)
        #expect(entries.compactMap { $0.objectValue?["state"]?.stringValue }.sorted() == ["active", "next"])
        let oldKid = try #require(entries.first { $0.objectValue?["state"] == .string("active") }?.objectValue?["kid"]?.stringValue)
        let newKid = try #require(entries.first { $0.objectValue?["state"] == .string("next") }?.objectValue?["kid"]?.stringValue)

        let rotated = try await BrokerProcess.run(["keys", "rotate"] + keys, directory: scratch.path)
        #expect(rotated.stdout.contains("active key is now \(newKid)"))
        // Kids are base64url and may begin with "-": after "--" they cannot be taken for an option.
        let refused = try await BrokerProcess.run(["keys", "retire"] + keys + ["--", newKid], directory: scratch.path)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("active signing key"))
        let retired = try await BrokerProcess.run(["keys", "retire"] + keys + ["--", oldKid], directory: scratch.path)
        #expect(retired.status == 0)
        let table = try await BrokerProcess.run(["keys", "list"] + keys, directory: scratch.path)
        #expect(table.stdout.contains(oldKid) && table.stdout.contains("retired"))
        #expect(try KeyRingDirectory(path: scratch.path + "/keys").load().active.algorithm == .edDSA)
        let bad = try await BrokerProcess.run(["keys", "generate", "--alg", "HS256"] + keys, directory: scratch.path)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--alg"))
    }

    @Test("token mint signs the contract's claims; inspect exits 0 valid, 1 invalid, 2 usage")
    func mintAndInspect() async throws {
        let scratch = ScratchDirectory()
        let keys = ["--keys-dir", scratch.path + "/keys"]
        _ = try KeyRingDirectory(path: scratch.path + "/keys").bootstrapIfEmpty()
        let minted = try await BrokerProcess.run(
            ["token", "mint", "--tenant", "tenant1", "--ttl", "120", "--roles", "agent,supervisor", "--scope", "otp token:mint",
             "--issuer", "https://broker.test"] + keys,
            directory: scratch.path)
        #expect(minted.status == 0, "\(minted.stderr)")
        let token = minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let header = try JWS.unverifiedHeader(token)
        #expect(header["typ"] == .string("at+jwt"))
        #expect(header["alg"] == .string("ES256"))
        let claims = try JWS.unverifiedClaims(token)
        #expect(claims["iss"] == .string("https://broker.test"))
        #expect(claims["aud"] == .string("https://tenant1.expertflow.com"))
        #expect(claims["tenant_id"] == .string("tenant1"))
        #expect(claims["tenant_domain"] == .string("tenant1.expertflow.com"))
        #expect(claims["roles"] == .array([.string("agent"), .string("supervisor")]))
        #expect(claims["scope"] == .string("otp token:mint"))
        let exp = try #require(claims["exp"]?.numberValue)
        let iat = try #require(claims["iat"]?.numberValue)
        #expect(exp - iat == 120)
        #expect(claims["nbf"] == claims["iat"])
        #expect(claims["jti"]?.stringValue?.count == 22)
        for name in ["sub", "client_id"] { #expect(claims[name]?.stringValue != nil) }

        let valid = try await BrokerProcess.run(["token", "inspect", token, "--issuer", "https://broker.test"] + keys, directory: scratch.path)
        #expect(valid.status == 0, "\(valid.stdout)\(valid.stderr)")
        #expect(valid.stdout.contains("signature: valid"))
        let parts = token.split(separator: ".").map(String.init)
        let forged = parts[0] + "." + Base64URL.encode(Array(#"{"exp":9999999999,"tenant_id":"tenant2"}"#.utf8)) + "." + parts[2]
        let invalid = try await BrokerProcess.run(["token", "inspect", forged] + keys, directory: scratch.path)
        #expect(invalid.status == 1)
        #expect(invalid.stdout.contains("signature: INVALID"))
        let wrongIssuer = try await BrokerProcess.run(["token", "inspect", token, "--issuer", "https://other"] + keys, directory: scratch.path)
        #expect(wrongIssuer.status == 1)
        let garbage = try await BrokerProcess.run(["token", "inspect", "not-a-jwt"] + keys, directory: scratch.path)
        #expect(garbage.status == 1)
        let usage = try await BrokerProcess.run(["token", "inspect"], directory: scratch.path)
        #expect(usage.status == 2)
        let badTenant = try await BrokerProcess.run(["token", "mint", "--tenant", "Tenant_1"] + keys, directory: scratch.path)
        #expect(badTenant.status == 2)
        let tooLong = try await BrokerProcess.run(["token", "mint", "--tenant", "t", "--ttl", "99999"] + keys, directory: scratch.path)
        #expect(tooLong.status == 2)
    }

    @Test("every command explains its options in --help", arguments: [
        ["--help"], ["serve", "--help"], ["keys", "--help"], ["keys", "generate", "--help"], ["keys", "rotate", "--help"],
        ["keys", "list", "--help"], ["keys", "retire", "--help"], ["token", "mint", "--help"], ["token", "inspect", "--help"],
    ])
    func help(arguments: [String]) async throws {
        let scratch = ScratchDirectory()
        let result = try await BrokerProcess.run(arguments, directory: scratch.path)
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE"))
        #expect(!result.stdout.contains("Missing"))
    }
}
