import Foundation
import HTTPTypes
import JOSE
import KeyRing
import StoreTestSupport
import TenantRegistry
import Testing

extension RegistryHarness.Client {
    /// Creates an API key with the given scopes and tenants and returns it.
    func apiKey(_ scopes: [String], tenants: [String] = ["*"], name: String = "component") async throws -> String {
        let reply = try await send(
            .post, "/v1/api-keys",
            json: .object(["name": .string(name), "scopes": .array(scopes.map(JSONValue.string)), "tenants": .array(tenants.map(JSONValue.string))]))
        guard let key = try reply.json["key"]?.stringValue else { throw TestFailure("no key: \(reply.text)") }
        return key
    }

    /// Sends a form body to an OAuth endpoint.
    func form(_ uri: String, _ fields: [(String, String)], basic: (String, String)? = nil, headers: HTTPFields = [:]) async throws -> Reply {
        var fields2 = headers
        fields2[.contentType] = "application/x-www-form-urlencoded"
        if let basic {
            fields2[.authorization] = "Basic " + Data("\(basic.0):\(basic.1)".utf8).base64EncodedString()
        }
        let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }.joined(separator: "&")
        return try await send(.post, uri, raw: Array(body.utf8), key: .some(nil), headers: fields2)
    }
}

/// `tbk_<id>_<secret>` → (`tbk_<id>`, secret).
func clientCredentials(_ key: String) -> (String, String) {
    let id = key.dropFirst(4).prefix { $0 != "_" }
    return ("tbk_" + id, String(key.dropFirst(5 + id.count)))
}

@Suite("minting cx-tenant tokens") struct MintTests {
    @Test("a component mints a token with exactly the contract's header and claims, verifiable with the served key")
    func mintV1() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1")).status == .created)
            let key = try await client.apiKey(["token:mint", "otp"], tenants: ["tenant1"], name: "svc-routing")
            let reply = try await client.send(.post, "/v1/tenants/tenant1/token", json: .object(["ttl": .int(120), "scope": .string("otp tenants:write")]), key: key)
            #expect(reply.status == .ok, "\(reply.text)")
            let body = try reply.json
            #expect(body["token_type"] == .string("Bearer"))
            #expect(body["expires_in"] == .int(120))
            #expect(body["tenant_id"] == .string("tenant1"))
            #expect(body["tenant_domain"] == .string("tenant1.expertflow.com"))
            #expect(reply.headers[.cacheControl] == "no-store")
            let token = try #require(body["access_token"]?.stringValue)
            let verified = try JWS.verify(token) { harness.broker.keyRing.current.key(forKid: $0) }
            #expect(verified.header == ["alg": .string("ES256"), "typ": .string("at+jwt"), "kid": .string(harness.broker.keyRing.current.active.kid)])
            let claims = verified.claims.dictionary
            #expect(Set(claims.keys) == ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "tenant_id", "tenant_domain", "scope", "roles"])
            #expect(claims["iss"] == .string(harness.broker.currentIssuer))
            #expect(claims["sub"] == .string("svc-routing"))
            #expect(claims["aud"] == .string("https://tenant1.expertflow.com"))
            #expect(claims["scope"] == .string("otp"), "scopes are intersected with the caller's own")
            #expect(claims["roles"] == .array([]))
            #expect(claims["client_id"]?.stringValue?.hasPrefix("tbk_") == true)
            #expect(claims["exp"]?.numberValue == claims["iat"]?.numberValue.map { $0 + 120 })
            let second = try await client.send(.post, "/v1/tenants/tenant1/token", key: key)
            let jti2 = try JWS.unverifiedClaims(try #require(try second.json["access_token"]?.stringValue))["jti"]
            #expect(jti2 != claims["jti"])
            #expect(try second.json["expires_in"] == .int(300))
            let metrics = try await client.send(.get, "/metrics", key: .some(nil)).text
            #expect(metrics.contains(#"token_broker_tokens_minted_total{endpoint="v1",tenant="other"} 2"#))
        }
    }

    @Test("only system admins grant roles; a ttl above the maximum is 422; bad bodies are 400/413/422")
    func limits() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1"))
            let key = try await client.apiKey(["token:mint"])
            let asComponent = try await client.send(.post, "/v1/tenants/tenant1/token", json: .object(["roles": .array([.string("tenant-admin")])]), key: key)
            #expect(try JWS.unverifiedClaims(try #require(try asComponent.json["access_token"]?.stringValue))["roles"] == .array([]))
            let asAdmin = try await client.send(.post, "/v1/tenants/tenant1/token", json: .object(["roles": .array([.string("agent"), .string("agent")]), "audience": .string("https://api.tenant1.expertflow.com/")]))
            let adminClaims = try JWS.unverifiedClaims(try #require(try asAdmin.json["access_token"]?.stringValue))
            #expect(adminClaims["roles"] == .array([.string("agent")]))
            #expect(adminClaims["aud"] == .string("https://api.tenant1.expertflow.com/"))
            // No tenant can mint a token whose audience is outside its own domain (e.g. another tenant's).
            for audience in ["https://tenant2.expertflow.com", "https://api.example/", "http://tenant1.expertflow.com", "https://eviltenant1.expertflow.com"] {
                let other = try await client.send(.post, "/v1/tenants/tenant1/token", json: .object(["audience": .string(audience)]), key: key)
                #expect(other.status == .unprocessableContent, "\(audience)")
            }
            let tooLong = try await client.send(.post, "/v1/tenants/tenant1/token", json: .object(["ttl": .int(3601)]), key: key)
            #expect(tooLong.status == .unprocessableContent)
            #expect(try tooLong.errorFields == ["ttl"])
            let bad = try await client.send(
                .post, "/v1/tenants/tenant1/token",
                json: .object(["ttl": .string("60"), "roles": .string("x"), "audience": .int(1), "scope": .array([]), "extra": .bool(true)]), key: key)
            #expect(try bad.errorFields == ["audience", "extra", "roles", "scope", "ttl"])
            #expect(try await client.send(.post, "/v1/tenants/tenant1/token", raw: Array("{".utf8), key: key).status == .badRequest)
            #expect(try await client.send(.post, "/v1/tenants/tenant1/token", raw: Array("[]".utf8), key: key).status == .unprocessableContent)
            let huge = try await client.send(.post, "/v1/tenants/tenant1/token", raw: Array(repeating: 0x20, count: 70_000), key: key)
            #expect(huge.status == .contentTooLarge)
            #expect(try await client.send(.post, "/v1/tenants/tenant1/token", json: .object(["audience": .string("not a uri")]), key: key).status == .unprocessableContent)
        }
    }

    @Test("suspended, expired and deleted tenants are 403 tenant_inactive; unknown or not allowed tenants 404; no mint scope 403")
    func refusals() async throws {
        let clock = TestClock(RFC3339.parse("2026-11-01T00:00:00Z")!)
        let harness = try await RegistryHarness.make(.sqlite, clock: clock)
        try await harness.run { client in
            for id in ["sus", "exp", "del", "ok"] {
                _ = try await client.send(.post, "/v1/tenants", json: tenantBody(id) { $0["subscription"] = .object(["expiresAt": .string(id == "exp" ? "2026-11-02T00:00:00Z" : "2030-01-01T00:00:00Z")]) })
            }
            let key = try await client.apiKey(["token:mint"], tenants: ["sus", "exp", "del", "ok"])
            let limited = try await client.apiKey(["token:mint"], tenants: ["ok"])
            let reader = try await client.apiKey(["tenants:read"])
            _ = try await client.send(.post, "/v1/tenants/sus/suspend")
            _ = try await client.send(.delete, "/v1/tenants/del")
            clock.set(RFC3339.parse("2026-11-03T00:00:00Z")!)
            for id in ["sus", "exp", "del"] {
                let reply = try await client.send(.post, "/v1/tenants/\(id)/token", key: key)
                #expect(reply.status == .forbidden, "\(id)")
                #expect(reply.code == "tenant_inactive")
            }
            #expect(try await client.send(.post, "/v1/tenants/ok/token", key: key).status == .ok)
            #expect(try await client.send(.post, "/v1/tenants/nope/token", key: key).status == .notFound)
            #expect(try await client.send(.post, "/v1/tenants/sus/token", key: limited).status == .notFound)
            #expect(try await client.send(.post, "/v1/tenants/ok/token", key: reader).status == .forbidden)
            #expect(try await client.send(.post, "/v1/tenants/ok/token", key: .some(nil)).status == .unauthorized)
            #expect(try await client.send(.post, "/v1/tenants/BAD%20ID/token", key: key).status == .notFound)
        }
    }

    @Test("/oauth2/token client_credentials authenticates by Basic or form, names the tenant or its resource, and answers OAuth errors")
    func oauthClientCredentials() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            for id in ["tenant1", "tenant2", "gone"] { _ = try await client.send(.post, "/v1/tenants", json: tenantBody(id)) }
            _ = try await client.send(.post, "/v1/tenants/gone/suspend")
            let key = try await client.apiKey(["token:mint"], tenants: ["tenant1", "gone"])
            let (id, secret) = clientCredentials(key)

            let basic = try await client.form("/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "tenant1")], basic: (id, secret))
            #expect(basic.status == .ok, "\(basic.text) \(id) \(secret.prefix(3))")
            #expect(try basic.json["token_type"] == .string("Bearer"))
            #expect(basic.headers[.cacheControl] == "no-store")
            let claims = try JWS.unverifiedClaims(try #require(try basic.json["access_token"]?.stringValue))
            #expect(claims["tenant_id"] == .string("tenant1"))
            let post = try await client.form(
                "/oauth2/token", [("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret), ("resource", "https://tenant1.expertflow.com")])
            #expect(post.status == .ok, "\(post.text)")

            var targets = [String]()
            for fields in [[("tenant", "tenant2")], [("tenant", "nope")], [("tenant", "gone")], [("resource", "https://tenant2.expertflow.com")],
                           [("resource", "http://tenant1.expertflow.com")], [("tenant", "Bad Id")]] {
                let reply = try await client.form("/oauth2/token", [("grant_type", "client_credentials")] + fields, basic: (id, secret))
                #expect(reply.status == .badRequest)
                #expect(try reply.json["error"] == .string("invalid_target"), "\(fields)")
                targets.append(reply.text)
            }
            #expect(Set(targets).count == 1, "unknown, not allowed and inactive tenants must be indistinguishable")

            let wrongSecret = try await client.form("/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "tenant1")], basic: (id, "x"))
            #expect(wrongSecret.status == .unauthorized)
            #expect(try wrongSecret.json["error"] == .string("invalid_client"))
            #expect(wrongSecret.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
            #expect(!wrongSecret.text.contains(secret))
            let noClient = try await client.form("/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "tenant1")])
            #expect(try noClient.json["error"] == .string("invalid_client"))
            let repeated = try await client.form("/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "tenant1"), ("tenant", "tenant2")], basic: (id, secret))
            #expect(try repeated.json["error"] == .string("invalid_request"))
            let unsupported = try await client.form("/oauth2/token", [("grant_type", "password")], basic: (id, secret))
            #expect(try unsupported.json["error"] == .string("unsupported_grant_type"))
            let missing = try await client.form("/oauth2/token", [("tenant", "tenant1")], basic: (id, secret))
            #expect(try missing.json["error"] == .string("invalid_request"))
            let json = try await client.send(.post, "/oauth2/token", json: .object(["grant_type": .string("client_credentials")]), key: .some(nil))
            #expect(json.status == .badRequest)
            #expect(try json.json["error"] == .string("invalid_request"))
            // A key written to the store by another process (the CLI, another instance) works at once here too.
            let (outside, outsideKey) = APIKeyRecord.generate(name: "cli", scopes: ["token:mint"], tenants: ["tenant1"], now: Date())
            try await harness.broker.tenants.store.createAPIKey(
                outside, audit: AuditEvent(at: Date(), actor: "cli", action: "api-key.create", tenantId: nil, requestId: nil))
            let fresh = try await client.form(
                "/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "tenant1")], basic: clientCredentials(outsideKey))
            #expect(fresh.status == .ok, "\(fresh.text)")
            let both = try await client.form("/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "tenant1"), ("client_secret", secret)], basic: (id, secret))
            #expect(try both.json["error"] == .string("invalid_request"))
        }
    }
}
