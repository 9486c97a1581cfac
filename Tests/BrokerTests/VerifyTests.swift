import Foundation
import HTTPTypes
import JOSE
import KeyRing
import TenantRegistry
import Testing

extension RegistryHarness {
    /// Signs arbitrary header and claims text with the broker's active key (or `key`), to forge hostile tokens.
    /// `encodedPayload` replaces the encoded claims as is (for payloads that are not valid base64url).
    func forge(header: String? = nil, claims: String, key: JWSPrivateKey? = nil, encodedPayload: String? = nil) throws -> String {
        let signing = try key ?? KeyRingDirectory(path: scratch.path + "/keys").privateKey(kid: broker.keyRing.current.active.kid)
        let headerText = header ?? "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"\(signing.kid)\"}"
        let input = Base64URL.encode(Array(headerText.utf8)) + "." + (encodedPayload ?? Base64URL.encode(Array(claims.utf8)))
        return input + "." + Base64URL.encode(try signing.sign(Array(input.utf8)))
    }

    /// Claims of a well-formed cx-tenant token for `tenant`, with `edit` applied to the JSON text members.
    func claims(tenant: String = "tenant1", now: Date, ttl: Int = 300, _ overrides: [String: String] = [:]) -> String {
        var members: [String: String] = [
            "iss": "\"\(broker.currentIssuer)\"", "sub": "\"svc\"", "aud": "\"https://\(tenant).expertflow.com\"",
            "iat": "\(Int(now.timeIntervalSince1970))", "nbf": "\(Int(now.timeIntervalSince1970))", "exp": "\(Int(now.timeIntervalSince1970) + ttl)",
            "jti": "\"\(UUID().uuidString)\"", "client_id": "\"tbk_x\"", "tenant_id": "\"\(tenant)\"", "tenant_domain": "\"\(tenant).expertflow.com\"",
            "scope": "\"otp\"", "roles": "[\"agent\"]",
        ]
        for (key, value) in overrides { members[key] = value == "-" ? nil : value }
        return "{" + members.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
    }
}

@Suite("verifying tokens: forward-auth, introspection, revocation") struct VerifyTests {
    @Test("a minted token verifies at /v1/verify with identity headers and introspects as active with the contract's fields")
    func happyPath() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1"))
            let minted = try await client.send(.post, "/v1/tenants/tenant1/token", json: .object(["roles": .array([.string("agent"), .string("supervisor")]), "scope": .string("otp")]))
            let token = try #require(try minted.json["access_token"]?.stringValue)
            let verify = try await client.send(.get, "/v1/verify", key: token, headers: [HTTPField.Name("X-Forwarded-Host")!: "Tenant1.expertflow.com:443"])
            #expect(verify.status == .ok)
            #expect(verify.headers[HTTPField.Name("X-Auth-Tenant")!] == "tenant1")
            #expect(verify.headers[HTTPField.Name("X-Auth-Roles")!] == "agent,supervisor")
            #expect(verify.headers[HTTPField.Name("X-Auth-Scope")!] == "otp")
            #expect(verify.headers[HTTPField.Name("X-Auth-Subject")!] == "test admin")
            #expect(try await client.send(.get, "/v1/verify?tenant=tenant1", key: token).status == .ok)
            // Cached: the second answer is the same, and a key ring reload that changes nothing keeps it valid.
            #expect(try await client.send(.get, "/v1/verify", key: token).status == .ok)
            _ = try harness.broker.keyRing.reload(logger: .init(label: "test")).get()
            #expect(try await client.send(.get, "/v1/verify", key: token).status == .ok, "a SIGHUP must not invalidate tokens of unchanged keys")

            let introspector = try await client.apiKey(["token:introspect"], tenants: ["tenant1"])
            let (id, secret) = clientCredentials(introspector)
            let active = try await client.form("/oauth2/introspect", [("token", token)], basic: (id, secret))
            let body = try active.json
            #expect(body["active"] == .bool(true))
            for field in ["iss", "sub", "aud", "exp", "iat", "jti", "scope", "client_id", "token_type", "tenant_id", "tenant_domain", "roles"] {
                #expect(body[field] != nil, "introspection lacks \(field)")
            }
            #expect(body["token_type"] == .string("Bearer"))
            let other = try await client.apiKey(["token:introspect"], tenants: ["tenant2"])
            let (otherId, otherSecret) = clientCredentials(other)
            #expect(try await client.form("/oauth2/introspect", [("token", token)], basic: (otherId, otherSecret)).json == ["active": .bool(false)])
            let minter = try await client.apiKey(["token:mint"])
            let (mId, mSecret) = clientCredentials(minter)
            #expect(try await client.form("/oauth2/introspect", [("token", token)], basic: (mId, mSecret)).status == .forbidden)
            #expect(try await client.form("/oauth2/introspect", [("token", token)]).status == .unauthorized)
            #expect(try await client.form("/oauth2/introspect", [], basic: (id, secret)).json["error"] == .string("invalid_request"))
        }
    }

    @Test("every hostile token in the issue's list is refused by /v1/verify (401) and inactive at introspection; none is a 5xx")
    func hostileTokens() async throws {
        let clock = TestClock(Date())
        let harness = try await RegistryHarness.make(.sqlite, clock: clock)
        try await harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1"))
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant2"))
            let introspector = try await client.apiKey(["token:introspect"])
            let (id, secret) = clientCredentials(introspector)
            let now = clock.now
            let kid = harness.broker.keyRing.current.active.kid
            let good = try harness.forge(claims: harness.claims(now: now))
            #expect(try await client.send(.get, "/v1/verify", key: good).status == .ok, "the control token must verify")
            let parts = good.split(separator: ".").map(String.init)

            // Keys for the kid and foreign-key cases.
            let directory = KeyRingDirectory(path: harness.scratch.path + "/keys")
            let foreign = try JWSPrivateKey.generate(.es256)
            let pubPEM = harness.broker.keyRing.current.active.publicKey.pem()
            let hsInput = Base64URL.encode(Array("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"\(kid)\"}".utf8)) + "." + Base64URL.encode(Array(harness.claims(now: now).utf8))
            let hsToken = hsInput + "." + Base64URL.encode(hmacSHA256(key: Array(pubPEM.utf8), message: Array(hsInput.utf8)))

            let cases: [(String, String, String)] = [
                ("alg none", Base64URL.encode(Array("{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"\(kid)\"}".utf8)) + "." + parts[1] + ".", "malformed token: empty part"),
                ("HS256 with our public key", hsToken, "algorithm 'HS256' is not accepted"),
                ("unknown kid", try harness.forge(header: "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"nope\"}", claims: harness.claims(now: now)), "no key with this kid"),
                ("foreign key with our kid", try harness.forge(header: "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"\(kid)\"}", claims: harness.claims(now: now), key: foreign), "signature does not verify"),
                ("nbf in the future", try harness.forge(claims: harness.claims(now: now, ["nbf": "\(Int(now.timeIntervalSince1970) + 600)"])), "token is not yet valid"),
                ("wrong iss", try harness.forge(claims: harness.claims(now: now, ["iss": "\"https://evil.example\""])), "issuer is not accepted"),
                ("wrong aud", try harness.forge(claims: harness.claims(now: now, ["aud": "\"https://tenant2.expertflow.com\""])), "audience is not accepted"),
                // Near misses of the default audience, the tenant's origin `https://tenant1.expertflow.com`.
                ("aud with a trailing slash", try harness.forge(claims: harness.claims(now: now, ["aud": "\"https://tenant1.expertflow.com/\""])), "audience is not accepted"),
                ("aud over http", try harness.forge(claims: harness.claims(now: now, ["aud": "\"http://tenant1.expertflow.com\""])), "audience is not accepted"),
                ("aud one byte short", try harness.forge(claims: harness.claims(now: now, ["aud": "\"https://tenant1.expertflow.co\""])), "audience is not accepted"),
                ("aud one byte long", try harness.forge(claims: harness.claims(now: now, ["aud": "\"https://tenant1.expertflow.comm\""])), "audience is not accepted"),
                ("aud in capitals", try harness.forge(claims: harness.claims(now: now, ["aud": "\"https://TENANT1.expertflow.com\""])), "audience is not accepted"),
                ("aud of bare domain", try harness.forge(claims: harness.claims(now: now, ["aud": "[\"tenant1.expertflow.com\",\"https://\"]"])), "audience is not accepted"),
                ("tampered payload", parts[0] + "." + Base64URL.encode(Array(harness.claims(now: now, ["roles": "[\"admin\"]"]).utf8)) + "." + parts[2], "signature does not verify"),
                ("truncated", String(good.dropLast(10)), "signature does not verify"),
                ("bad base64url", parts[0] + "." + parts[1] + "!" + "." + parts[2], "signature does not verify"),
                ("bad base64url under a good signature", try harness.forge(claims: "", encodedPayload: parts[1] + "!"), "payload is not canonical base64url"),
                ("padded payload under a good signature", try harness.forge(claims: "", encodedPayload: parts[1] + "=="), "payload is not canonical base64url"),
                ("padding", parts[0] + "." + parts[1] + "." + parts[2] + "==", "signature is not canonical base64url"),
                ("1 MB token", String(repeating: "A", count: 1_000_000), "token exceeds the size limit"),
                ("duplicate JSON keys", try harness.forge(claims: "{\"exp\":1,\"exp\":\(Int(now.timeIntervalSince1970) + 300)," + harness.claims(now: now, ["exp": "-"]).dropFirst()), "payload is not a valid JSON object"),
                ("non-object payload", try harness.forge(claims: "[1,2,3]"), "payload is not a valid JSON object"),
                ("exp as a string", try harness.forge(claims: harness.claims(now: now, ["exp": "\"\(Int(now.timeIntervalSince1970) + 300)\""])), "claim 'exp' has an invalid value"),
                ("typ JWT", try harness.forge(header: "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"\(kid)\"}", claims: harness.claims(now: now)), "token type is not accepted"),
                ("unknown tenant", try harness.forge(claims: harness.claims(tenant: "ghost", now: now)), "the token's tenant is unknown"),
                ("tenant_domain not the tenant's", try harness.forge(claims: harness.claims(now: now, ["tenant_domain": "\"tenant2.expertflow.com\""])), "the token's tenant is unknown"),
                ("roles not an array", try harness.forge(claims: harness.claims(now: now, ["roles": "\"admin\""])), "claim 'roles' has an invalid value"),
                ("no jti", try harness.forge(claims: harness.claims(now: now, ["jti": "-"])), "a cx-tenant claim is missing or not a string"),
            ]
            let longAlg = Base64URL.encode(Array("{\"alg\":\"\(String(repeating: "X", count: 6000))\",\"kid\":\"\(kid)\"}".utf8)) + "." + parts[1] + "." + parts[2]
            let reflected = try await client.send(.get, "/v1/verify", key: longAlg)
            #expect(reflected.status == .unauthorized)
            #expect((reflected.headers[.wwwAuthenticate]?.count ?? 0) < 200, "token text must not be reflected")
            // Each case must be refused for its own reason, so these are sent while their key is still current.
            try await expectRefused(cases)

            // Then the key rotates and the old one is retired: its tokens go with it. The expired token is
            // signed by the new key, so that only its expiry can refuse it.
            _ = try directory.rotate()
            _ = try directory.retire(kid: kid)
            harness.broker.keyRing.reload(logger: .init(label: "test"))
            let expired = try harness.forge(claims: harness.claims(now: now, ttl: 60))
            clock.set(now.addingTimeInterval(60 + 61))
            try await expectRefused([("kid of a retired key", good, "no key with this kid"), ("expired beyond leeway", expired, "token has expired")])

            /// Each token is refused with its own reason (so that no case passes by failing an earlier check).
            func expectRefused(_ cases: [(String, String, String)]) async throws {
                for (name, token, reason) in cases {
                    let verify = try await client.send(.get, "/v1/verify", key: token)
                    #expect(verify.status == .unauthorized, "\(name): \(verify.status)")
                    #expect(
                        verify.headers[.wwwAuthenticate] == "Bearer error=\"invalid_token\", error_description=\"\(reason)\"",
                        "\(name): \(verify.headers[.wwwAuthenticate] ?? "no WWW-Authenticate")")
                    #expect(verify.headers[HTTPField.Name("X-Auth-Tenant")!] == nil)
                    let introspection = try await client.form("/oauth2/introspect", [("token", token)], basic: (id, secret))
                    #expect(introspection.status.code < 500, "\(name)")
                    if introspection.status == .ok { #expect(try introspection.json == ["active": .bool(false)], "\(name)") }
                }
            }
        }
    }

    @Test("a token of tenant1 at tenant2's host is 403; missing credentials are 401 without an error code")
    func wrongTenant() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            for id in ["tenant1", "tenant2"] { _ = try await client.send(.post, "/v1/tenants", json: tenantBody(id)) }
            let token = try #require(try await client.send(.post, "/v1/tenants/tenant1/token").json["access_token"]?.stringValue)
            #expect(try await client.send(.get, "/v1/verify", key: token, headers: [HTTPField.Name("X-Forwarded-Host")!: "tenant2.expertflow.com"]).status == .forbidden)
            #expect(try await client.send(.get, "/v1/verify?tenant=tenant2", key: token).status == .forbidden)
            let smuggled = try await client.send(
                .get, "/v1/verify?tenant=tenant1", key: token, headers: [HTTPField.Name("X-Forwarded-Host")!: "tenant2.expertflow.com"])
            #expect(smuggled.status == .forbidden, "?tenant= must not override the host")
            #expect(try await client.send(.get, "/v1/verify", key: token, headers: [HTTPField.Name("X-Forwarded-Host")!: "evil.example"]).status == .forbidden)
            // X-Forwarded-Host: the first non-empty element counts, trimmed, port dropped, ASCII case folded.
            let forwarded: [(String, HTTPResponse.Status)] = [
                ("TENANT1.Expertflow.COM", .ok), (",tenant1.expertflow.com", .ok), (" \ttenant1.expertflow.com:8443 , tenant2.expertflow.com", .ok),
                ("tenant2.expertflow.com, tenant1.expertflow.com", .forbidden), (":443", .forbidden), ("tenant1.expertflow.com.", .forbidden),
                ("[::1]:8080", .forbidden), ("tenant1.expertflow.com:", .ok), ("", .ok), (",,", .ok),
            ]
            for (value, status) in forwarded {
                let answer = try await client.send(.get, "/v1/verify", key: token, headers: [HTTPField.Name("X-Forwarded-Host")!: value])
                #expect(answer.status == status, "X-Forwarded-Host: \(value.debugDescription)")
            }
            // Unicode case mapping would turn U+212A KELVIN SIGN into "k": the host of tenant k1 must not be reachable so.
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("k1"))
            let k1 = try #require(try await client.send(.post, "/v1/tenants/k1/token").json["access_token"]?.stringValue)
            #expect(try await client.send(.get, "/v1/verify", key: k1, headers: [HTTPField.Name("X-Forwarded-Host")!: "K1.expertflow.com"]).status == .ok)
            #expect(try await client.send(.get, "/v1/verify", key: k1, headers: [HTTPField.Name("X-Forwarded-Host")!: "\u{212A}1.expertflow.com"]).status == .forbidden)
            let none = try await client.send(.get, "/v1/verify", key: .some(nil))
            #expect(none.status == .unauthorized)
            #expect(none.headers[.wwwAuthenticate] == "Bearer realm=\"token-broker\"")
        }
    }

    @Test("an expired token's refusal is remembered: a replay costs no second signature check")
    func expiredIsRemembered() async throws {
        let clock = TestClock(Date())
        let harness = try await RegistryHarness.make(.sqlite, clock: clock)
        try await harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1"))
            let now = clock.now
            let expired = try harness.forge(claims: harness.claims(now: now, ttl: 60))
            clock.set(now.addingTimeInterval(60 + 61))  // past exp and the 60 s leeway
            let first = try await client.send(.get, "/v1/verify", key: expired)
            #expect(first.status == .unauthorized)
            #expect(first.headers[.wwwAuthenticate]?.contains("expired") == true, "\(first.headers[.wwwAuthenticate] ?? "")")
            // Back inside its lifetime: a recomputed verdict would now pass; the remembered refusal does not.
            clock.set(now.addingTimeInterval(30))
            #expect(try await client.send(.get, "/v1/verify", key: expired).status == .unauthorized)
            // The clock really is back: a token with the same lifetime, never seen before, verifies.
            let unseen = try harness.forge(claims: harness.claims(now: now, ttl: 60))
            #expect(try await client.send(.get, "/v1/verify", key: unseen).status == .ok)
        }
    }

    @Test("suspending or deleting a tenant, or revoking a token, stops its cached tokens at the next request")
    func invalidation() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            for id in ["sus", "del", "rev"] { _ = try await client.send(.post, "/v1/tenants", json: tenantBody(id)) }
            func mint(_ tenant: String) async throws -> String {
                try #require(try await client.send(.post, "/v1/tenants/\(tenant)/token").json["access_token"]?.stringValue)
            }
            let sus = try await mint("sus"), del = try await mint("del"), rev = try await mint("rev"), rev2 = try await mint("rev")
            for token in [sus, del, rev, rev2] { #expect(try await client.send(.get, "/v1/verify", key: token).status == .ok) }
            _ = try await client.send(.post, "/v1/tenants/sus/suspend")
            _ = try await client.send(.delete, "/v1/tenants/del")
            #expect(try await client.send(.get, "/v1/verify", key: sus).status == .unauthorized)
            #expect(try await client.send(.get, "/v1/verify", key: del).status == .unauthorized)
            _ = try await client.send(.post, "/v1/tenants/sus/resume")
            #expect(try await client.send(.get, "/v1/verify", key: sus).status == .ok)

            let owner = try await client.apiKey(["token:introspect"], tenants: ["rev"])
            let (id, secret) = clientCredentials(owner)
            let outsider = try await client.apiKey(["token:mint"], tenants: ["sus"])
            let (oId, oSecret) = clientCredentials(outsider)
            #expect(try await client.form("/oauth2/revoke", [("token", rev)], basic: (oId, oSecret)).status == .forbidden)
            #expect(try await client.form("/oauth2/revoke", [("token", rev)], basic: (id, secret)).status == .ok)
            #expect(try await client.send(.get, "/v1/verify", key: rev).status == .unauthorized)
            #expect(try await client.send(.get, "/v1/verify", key: rev2).status == .ok, "revocation is per token")
            #expect(try await client.form("/oauth2/introspect", [("token", rev)], basic: (id, secret)).json == ["active": .bool(false)])
            #expect(try await client.form("/oauth2/revoke", [("token", "garbage")], basic: (id, secret)).status == .ok)
            #expect(try await client.form("/oauth2/revoke", [("token", rev)], basic: (id, secret)).status == .ok, "revoking twice is fine")
            let audit = try await client.send(.get, "/v1/audit?tenantId=rev").json["items"]?.arrayValue?.compactMap { $0.objectValue?["action"]?.stringValue }
            #expect(audit == ["tenant.create", "token.revoke"])
        }
    }
}

/// HMAC-SHA256 from SHA-256, to forge the RS/HS confusion token.
func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
    var k = key.count > 64 ? Crypto.sha256(key) : key
    k += [UInt8](repeating: 0, count: 64 - k.count)
    let inner = Crypto.sha256(k.map { $0 ^ 0x36 } + message)
    return Crypto.sha256(k.map { $0 ^ 0x5c } + inner)
}
