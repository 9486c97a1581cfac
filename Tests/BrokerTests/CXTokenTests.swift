import Foundation
import JOSE
import Testing
import Tokens

@Suite("cx-tenant token payload") struct CXTokenTests {
    static let key = try! JWSPrivateKey.generate(.es256)

    @Test("the claims are written in key order with exactly the contract's members, the same bytes as serialising them as a dictionary", arguments: [nil, "sub1"])
    func payload(subtenant: String?) throws {
        let request = CXToken.Request(
            tenantId: "tenant1", tenantDomain: "tenant1.expertflow.com", subject: "apikey \"core\" é", clientId: "core",
            audience: nil, scope: ["token:mint", "tenant:read"], roles: ["agent", "a\\b"], ttl: 300, subtenantId: subtenant)
        let now = Date(timeIntervalSince1970: 1_800_000_000.7)
        let minted = try CXToken.mint(request, issuer: "https://broker.test", key: Self.key, now: now)
        #expect(minted.expiresIn == 300)
        var expected: [String: JSONValue] = [
            "iss": .string("https://broker.test"), "sub": .string("apikey \"core\" é"), "aud": .string("https://tenant1.expertflow.com"),
            "iat": .int(1_800_000_000), "nbf": .int(1_800_000_000), "exp": .int(1_800_000_300), "client_id": .string("core"),
            "tenant_id": .string("tenant1"), "tenant_domain": .string("tenant1.expertflow.com"), "scope": .string("token:mint tenant:read"),
            "roles": .array([.string("agent"), .string("a\\b")]),
        ]
        if let subtenant { expected["subtenant_id"] = .string(subtenant) }
        let verified = try JWS.verify(minted.token, using: Self.key.publicKey)
        let jti = try #require(verified.claims["jti"]?.stringValue)
        #expect(Base64URL.decode(jti)?.count == 16)
        expected["jti"] = .string(jti)
        let payload = try #require(Base64URL.decode(minted.token.split(separator: ".")[1]))
        #expect(payload == JSONValue.object(expected).serialized())
        #expect(try JWS.unverifiedHeader(minted.token) == ["alg": .string("ES256"), "typ": .string("at+jwt"), "kid": .string(Self.key.kid)])
    }
}
