import Broker
import Foundation
import JOSE
import KeyRing
import StoreTestSupport
import Tokens
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `scripts/crosscheck.py` (PyJWT and joserfc, installed by scripts/test) as an independent second opinion.
enum PythonPeer {
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    static func run(_ arguments: [String]) throws -> [UInt8] {
        let python = ProcessInfo.processInfo.environment["TOKEN_BROKER_TEST_PYTHON"] ?? "python3"
        let output = try runTool(
            "/usr/bin/env", [python, "-W", "ignore", repositoryRoot + "/scripts/crosscheck.py"] + arguments,
            hint: "are PyJWT and joserfc installed (scripts/test)?")
        return Array(output.utf8)
    }
}

@Suite("cross-verification with PyJWT and joserfc", .serialized) struct CrossCheckTests {
    @Test("tokens signed here with all four algorithms verify in PyJWT and joserfc against the served JWKS; tampered ones do not")
    func ourTokensVerifyThere() async throws {
        let scratch = ScratchDirectory()
        let keysDir = scratch.path + "/keys"
        let directory = KeyRingDirectory(path: keysDir)
        _ = try directory.bootstrapIfEmpty()
        for algorithm in [JWSAlgorithm.rs256, .ps256, .edDSA] { _ = try directory.generate(algorithm) }
        let broker = try await BrokerProcess.serve(keysDir: keysDir, directory: scratch.path)
        defer { broker.signal(SIGKILL) }

        var cases = [JSONValue]()
        func add(_ name: String, _ alg: JWSAlgorithm, _ token: String, audience: String = "https://tenant1.expertflow.com") {
            cases.append(.object([
                "name": .string(name), "alg": .string(alg.rawValue), "token": .string(token), "issuer": .string(broker.baseURL),
                "audience": .string(audience),
            ]))
        }
        // One token minted over HTTP by the running broker with an API key, as a component would get it.
        let database = "sqlite:\(scratch.path)/registry.sqlite"
        let httpBroker = try await BrokerProcess.serve(
            keysDir: keysDir, directory: scratch.path, extraArguments: ["--database", database, "--issuer", broker.baseURL])
        defer { httpBroker.signal(SIGKILL) }
        let adminKey = try await bootstrapAdminKey(database: database, directory: scratch.path)
        #expect(try await HTTP.send(.POST, httpBroker.baseURL + "/v1/tenants", key: adminKey, json: tenantBody("tenant1")).status == 201)
        let overHTTP = try JSONParser().parseObject(try await HTTP.send(.POST, httpBroker.baseURL + "/v1/tenants/tenant1/token", key: adminKey).body)
        add("valid-http-mint", .es256, try #require(overHTTP["access_token"]?.stringValue))

        for entry in try directory.list() {
            let key = try directory.privateKey(kid: entry.kid)
            let request = CXToken.Request(
                tenantId: "tenant1", tenantDomain: "tenant1.expertflow.com", subject: "svc", clientId: "tbk_svc",
                scope: ["token:mint"], roles: ["agent"], ttl: 300)
            let minted = try CXToken.mint(request, issuer: broker.baseURL, key: key)
            add("valid-\(entry.alg.rawValue)", entry.alg, minted.token)
            var tampered = Array(minted.token.utf8)
            let middle = minted.token.split(separator: ".")[0].count + 5
            tampered[middle] = tampered[middle] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            add("tampered-\(entry.alg.rawValue)", entry.alg, String(decoding: tampered, as: UTF8.self))
            add("wrong-audience-\(entry.alg.rawValue)", entry.alg, minted.token, audience: "https://tenant2.expertflow.com")
        }
        let casesFile = scratch.path + "/cases.json"
        try Data(JSONValue.array(cases).serialized()).write(to: URL(fileURLWithPath: casesFile))
        let output = try PythonPeer.run(["verify", "--jwks-url", broker.baseURL + "/.well-known/jwks.json", "--cases", casesFile])
        let verdicts = try #require(try JSONParser().parse(output).arrayValue)
        #expect(verdicts.count == 13)
        for verdict in verdicts {
            let object = try #require(verdict.objectValue)
            let name = object["name"]?.stringValue ?? "?"
            for library in ["pyjwt", "joserfc"] {
                let result = object[library]?.stringValue ?? "missing"
                if name.hasPrefix("valid-") {
                    #expect(result == "ok", "\(library) rejected \(name): \(result)")
                } else {
                    #expect(result.hasPrefix("error"), "\(library) accepted \(name)")
                }
            }
        }
    }

    @Test("tokens PyJWT and joserfc sign with all four algorithms verify here; altered ones do not")
    func theirTokensVerifyHere() throws {
        let document = try JSONParser().parseObject(try PythonPeer.run(["sign"]))
        let jwks = try #require(document["jwks"])
        let keys = try JWKSet(json: jwks.serialized())
        #expect(keys.keys.count == 8)
        #expect(keys.skipped.isEmpty)
        let tokens = try #require(document["tokens"]?.arrayValue)
        #expect(tokens.count == 8)
        let validator = ClaimsValidator(
            issuers: ["https://peer.test"], audiences: ["https://tenant1.expertflow.com"], types: ["at+jwt"], leeway: 60)
        var algorithms = Set<String>()
        for entry in tokens {
            let token = try #require(entry.objectValue?["token"]?.stringValue)
            let verified = try JWS.verify(token) { keys.keys[$0] }
            try validator.validate(verified, now: Date().timeIntervalSince1970)
            #expect(verified.claims["tenant_id"] == .string("tenant1"))
            algorithms.insert(verified.key.algorithm.rawValue)
            let parts = token.split(separator: ".").map(String.init)
            let forgedClaims = Base64URL.encode(Array(#"{"iss":"https://peer.test","aud":"https://tenant1.expertflow.com","exp":9999999999,"tenant_id":"tenant2"}"#.utf8))
            #expect(throws: JOSEError.invalidSignature) { try JWS.verify(parts[0] + "." + forgedClaims + "." + parts[2]) { keys.keys[$0] } }
        }
        #expect(algorithms == ["ES256", "RS256", "PS256", "EdDSA"])
    }
}
