import Foundation
import HTTPTypes
import JOSE
import KeycloakDouble
import Testing

@Suite("callers authenticated by Keycloak and cx-tenant tokens", .serialized) struct CallerTests {
    func keycloakClaims(_ double: KeycloakDouble, realm: String, roles: [String]?, typ: String = "Bearer", ttl: Int64 = 300) -> [String: JSONValue] {
        let now = Int64(Date().timeIntervalSince1970)
        var claims: [String: JSONValue] = [
            "iss": .string(double.issuer(realm)), "sub": .string("user-\(realm)"), "typ": .string(typ), "azp": .string("token-broker"),
            "exp": .int(now + ttl), "iat": .int(now), "preferred_username": .string("ada"),
        ]
        if let roles { claims["realm_access"] = .object(["roles": .array(roles.map(JSONValue.string))]) }
        return claims
    }

    @Test("RBAC table: every endpoint x {no credentials, system admin, tenant admin of T, tenant admin of U, component key}")
    func rbacTable() async throws {
        let double = try KeycloakDouble(realms: ["master", "t1", "t2"])
        try await double.start()
        defer { double.stop() }
        let harness = try await RegistryHarness.make(.sqlite, flags: ["keycloakUrl": double.base])
        try await harness.run { client in
            for id in ["t1", "t2"] { #expect(try await client.send(.post, "/v1/tenants", json: tenantBody(id)).status == .created) }
            let component = try await client.apiKey(["token:mint"])
            let admin = try double.token("master", claims: keycloakClaims(double, realm: "master", roles: ["admin", "default-roles-master"]))
            let adminT = try double.token("t1", claims: keycloakClaims(double, realm: "t1", roles: ["tenant-admin"]))
            let adminU = try double.token("t2", claims: keycloakClaims(double, realm: "t2", roles: ["tenant-admin"]))
            let callers: [(String, String?)] = [("none", nil), ("system admin", admin), ("admin of T", adminT), ("admin of U", adminU), ("component", component)]
            typealias Row = (HTTPRequest.Method, String, JSONValue?, [Int])
            let table: [Row] = [
                (.get, "/v1/tenants/t1", nil, [401, 200, 200, 404, 403]),
                (.patch, "/v1/tenants/t1", .object(["mediaServer": .null]), [401, 200, 200, 404, 403]),
                (.get, "/v1/tenants", nil, [401, 200, 200, 200, 403]),
                (.post, "/v1/tenants", nil, [401, 422, 403, 403, 403]),
                (.get, "/v1/dashboard/summary", nil, [401, 200, 403, 403, 403]),
                (.get, "/v1/audit?tenantId=t1", nil, [401, 200, 200, 404, 403]),
                (.get, "/v1/api-keys", nil, [401, 200, 403, 403, 403]),
                (.post, "/v1/tenants/t1/token", nil, [401, 200, 403, 404, 200]),
                (.post, "/v1/tenants/t1/suspend", nil, [401, 200, 403, 404, 403]),
                (.post, "/v1/tenants/t1/resume", nil, [401, 200, 403, 404, 403]),
                (.post, "/v1/tenants/t1/otp", .object([:]), [401, 422, 403, 404, 403]),
                (.post, "/v1/tenants/t1/otp/AAAAAAAAAAAAAAAAAAAAAA/verify", .object(["otp": .string("123456")]), [401, 404, 403, 404, 403]),
            ]
            for (method, uri, body, expected) in table {
                for ((name, credential), status) in zip(callers, expected) {
                    let reply = try await client.send(method, uri, json: body ?? (method == .post && uri == "/v1/tenants" ? .object([:]) : nil), key: .some(credential))
                    #expect(Int(reply.status.code) == status, "\(method) \(uri) as \(name): \(reply.status.code) \(reply.text.prefix(120))")
                }
            }
            let listedByT = try await client.send(.get, "/v1/tenants", key: adminT).json["items"]?.arrayValue
            #expect(listedByT?.compactMap { $0.objectValue?["tenantId"]?.stringValue } == ["t1"])
            let subscription = try await client.send(.patch, "/v1/tenants/t1", json: .object(["subscription": .null]), key: adminT)
            #expect(subscription.code == "field_not_updatable", "only system admins change subscriptions")
            let audit = try await client.send(.get, "/v1/audit?tenantId=t1").json["items"]?.arrayValue ?? []
            #expect(audit.contains { $0.objectValue?["actor"]?.stringValue == "keycloak:t1:user-t1" }, "the tenant admin's PATCH is audited with its identity")
        }
    }

    @Test("Keycloak tokens without rights, of the wrong type, expired, from unknown issuers or rotated-out keys are refused")
    func refusals() async throws {
        let double = try KeycloakDouble(realms: ["master", "t1"])
        try await double.start()
        defer { double.stop() }
        let harness = try await RegistryHarness.make(.sqlite, flags: ["keycloakUrl": double.base, "jwksMinRefetchInterval": "0"])
        try await harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("t1"))
            // A lightweight admin-cli token (Keycloak 26): valid, but no roles claim at all: no rights, so 403.
            var lightweight = keycloakClaims(double, realm: "master", roles: nil)
            lightweight["sub"] = nil
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: try double.token("master", claims: lightweight)).status == .forbidden)
            let idToken = try double.token("master", claims: keycloakClaims(double, realm: "master", roles: ["admin"], typ: "ID"))
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: idToken).status == .unauthorized)
            let expired = try double.token("master", claims: keycloakClaims(double, realm: "master", roles: ["admin"], ttl: -120))
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: expired).status == .unauthorized)
            var foreign = keycloakClaims(double, realm: "master", roles: ["admin"])
            foreign["iss"] = .string("http://127.0.0.1:1/realms/master")
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: try double.token("master", claims: foreign)).status == .unauthorized)
            let unknownRealm = try double.token("t1", claims: { var c = keycloakClaims(double, realm: "t1", roles: ["tenant-admin"]); c["iss"] = .string(double.issuer("t9")); return c }())
            #expect(try await client.send(.get, "/v1/tenants/t1", key: unknownRealm).status == .unauthorized)
            let old = try double.token("master", claims: keycloakClaims(double, realm: "master", roles: ["admin"]))
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: old).status == .ok)
            _ = try double.rotate("master", dropOld: true)
            let fresh = try double.token("master", claims: keycloakClaims(double, realm: "master", roles: ["admin"]))
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: fresh).status == .ok, "the new kid is fetched")
            // Two live tenants on one realm: a token of that realm names no tenant at all.
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("t1b") { $0["keycloak"] = .object(["realm": .string("t1"), "clientId": .string("c"), "Otp_Manager_Url": .string("http://otp/")]) })
            let ambiguous = try double.token("t1", claims: keycloakClaims(double, realm: "t1", roles: ["tenant-admin"]))
            #expect(try await client.send(.get, "/v1/tenants/t1", key: ambiguous).status == .unauthorized)
            _ = try await client.send(.delete, "/v1/tenants/t1b")
            #expect(try await client.send(.get, "/v1/tenants/t1", key: ambiguous).status == .ok, "a deleted tenant gives its realm back")
            // A tenant realm token does not make anyone a system admin, whatever roles it carries.
            let realmAdmin = try double.token("t1", claims: keycloakClaims(double, realm: "t1", roles: ["admin", "tenant-admin"]))
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: realmAdmin).status == .forbidden)
        }
    }

    @Test("a token signed with a tenant realm's cached key but claiming the master issuer is refused (the key must be its issuer's)")
    func crossRealmKey() async throws {
        let double = try KeycloakDouble(realms: ["master", "t1"])
        try await double.start()
        defer { double.stop() }
        let harness = try await RegistryHarness.make(.sqlite, flags: ["keycloakUrl": double.base])
        try await harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("t1"))
            let tenantAdmin = try double.token("t1", claims: keycloakClaims(double, realm: "t1", roles: ["tenant-admin"]))
            let master = try double.token("master", claims: keycloakClaims(double, realm: "master", roles: ["admin"]))
            #expect(try await client.send(.get, "/v1/tenants/t1", key: tenantAdmin).status == .ok, "t1's key is now cached")
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: master).status == .ok, "master's key too")
            // Signed by t1's key, claiming to be a master admin: the kid is found, the signature holds, the issuer does not match.
            var forged = keycloakClaims(double, realm: "master", roles: ["admin"])
            forged["iss"] = .string(double.issuer("master"))
            let crossSigned = try double.token("t1", claims: forged)
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: crossSigned).status == .unauthorized)
        }
    }

    @Test("a cx-tenant token with role tenant-admin administers its tenant and nothing else")
    func cxTenantAdmin() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            for id in ["t1", "t2"] { _ = try await client.send(.post, "/v1/tenants", json: tenantBody(id)) }
            let minted = try await client.send(.post, "/v1/tenants/t1/token", json: .object(["roles": .array([.string("tenant-admin")])]))
            let token = try #require(try minted.json["access_token"]?.stringValue)
            #expect(try await client.send(.get, "/v1/tenants/t1", key: token).status == .ok)
            #expect(try await client.send(.get, "/v1/tenants/t2", key: token).status == .notFound)
            #expect(try await client.send(.post, "/v1/tenants/t1/suspend", key: token).status == .forbidden)
            let agent = try #require(try await client.send(.post, "/v1/tenants/t1/token", json: .object(["roles": .array([.string("agent")])])).json["access_token"]?.stringValue)
            #expect(try await client.send(.get, "/v1/tenants/t1", key: agent).status == .forbidden)
        }
    }
}

@Suite("RFC 8693 token exchange", .serialized) struct TokenExchangeTests {
    let exchange = "urn:ietf:params:oauth:grant-type:token-exchange"
    let accessToken = "urn:ietf:params:oauth:token-type:access_token"

    @Test("a tenant realm's token becomes a cx-tenant token for that tenant; master tokens need a tenant and a role")
    func exchangeTokens() async throws {
        let double = try KeycloakDouble(realms: ["master", "t1", "t2"])
        try await double.start()
        defer { double.stop() }
        let harness = try await RegistryHarness.make(.sqlite, flags: ["keycloakUrl": double.base])
        let callers = CallerTests()
        try await harness.run { client in
            for id in ["t1", "t2"] { _ = try await client.send(.post, "/v1/tenants", json: tenantBody(id)) }
            let user = try double.token("t1", claims: callers.keycloakClaims(double, realm: "t1", roles: ["agent", "tenant-admin"]))
            let reply = try await client.form("/oauth2/token", [("grant_type", exchange), ("subject_token", user), ("subject_token_type", accessToken)])
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(try reply.json["issued_token_type"] == .string(accessToken))
            let token = try #require(try reply.json["access_token"]?.stringValue)
            let claims = try JWS.unverifiedClaims(token)
            #expect(claims["tenant_id"] == .string("t1"))
            #expect(claims["sub"] == .string("user-t1"))
            #expect(claims["roles"] == .array([.string("agent"), .string("tenant-admin")]))
            #expect(try await client.send(.get, "/v1/verify", key: token).status == .ok)
            let otherTenant = try await client.form(
                "/oauth2/token", [("grant_type", exchange), ("subject_token", user), ("subject_token_type", accessToken), ("tenant", "t2")])
            #expect(try otherTenant.json["error"] == .string("invalid_target"))
            let otherAudience = try await client.form(
                "/oauth2/token", [("grant_type", exchange), ("subject_token", user), ("subject_token_type", accessToken), ("audience", "https://t2.expertflow.com")])
            #expect(try otherAudience.json["error"] == .string("invalid_target"))
            #expect(claims["client_id"] == .string("keycloak:t1:token-broker"), "a realm's client names cannot pose as API keys")

            let minter = try double.token("master", claims: callers.keycloakClaims(double, realm: "master", roles: ["cx-token-minter"]))
            let forT2 = try await client.form("/oauth2/token", [("grant_type", exchange), ("subject_token", minter), ("subject_token_type", accessToken), ("tenant", "t2")])
            #expect(forT2.status == .ok, "\(forT2.text)")
            #expect(try JWS.unverifiedClaims(try #require(try forT2.json["access_token"]?.stringValue))["roles"] == .array([]))
            let noTenant = try await client.form("/oauth2/token", [("grant_type", exchange), ("subject_token", minter), ("subject_token_type", accessToken)])
            #expect(try noTenant.json["error"] == .string("invalid_request"))
            let plain = try double.token("master", claims: callers.keycloakClaims(double, realm: "master", roles: ["offline_access"]))
            let refused = try await client.form("/oauth2/token", [("grant_type", exchange), ("subject_token", plain), ("subject_token_type", accessToken), ("tenant", "t1")])
            #expect(try refused.json["error"] == .string("invalid_grant"))
            let garbage = try await client.form("/oauth2/token", [("grant_type", exchange), ("subject_token", "not.a.jwt"), ("subject_token_type", accessToken)])
            #expect(try garbage.json["error"] == .string("invalid_grant"))
            let wrongType = try await client.form(
                "/oauth2/token", [("grant_type", exchange), ("subject_token", user), ("subject_token_type", "urn:ietf:params:oauth:token-type:id_token")])
            #expect(try wrongType.json["error"] == .string("invalid_request"))
            // A cx-tenant token is not a Keycloak subject token.
            let cx = try await client.form("/oauth2/token", [("grant_type", exchange), ("subject_token", token), ("subject_token_type", accessToken)])
            #expect(try cx.json["error"] == .string("invalid_grant"))
            _ = try await client.send(.post, "/v1/tenants/t1/suspend")
            let suspended = try await client.form("/oauth2/token", [("grant_type", exchange), ("subject_token", user), ("subject_token_type", accessToken)])
            #expect(try suspended.json["error"] == .string("invalid_target"))
        }
    }
}

@Suite("Keycloak access tokens at /v1/verify and introspection", .serialized) struct KeycloakVerifyTests {
    @Test("a tenant realm's token passes forward-auth for its tenant only; master tokens belong to no tenant; introspection reports them")
    func keycloakTokens() async throws {
        let double = try KeycloakDouble(realms: ["master", "t1", "t2"])
        try await double.start()
        defer { double.stop() }
        let harness = try await RegistryHarness.make(.sqlite, flags: ["keycloakUrl": double.base])
        let callers = CallerTests()
        try await harness.run { client in
            for id in ["t1", "t2"] { _ = try await client.send(.post, "/v1/tenants", json: tenantBody(id)) }
            var userClaims = callers.keycloakClaims(double, realm: "t1", roles: ["agent"])
            userClaims["scope"] = .string("profile email")
            let user = try double.token("t1", claims: userClaims)
            let host = HTTPField.Name("X-Forwarded-Host")!
            let ok = try await client.send(.get, "/v1/verify", key: user, headers: [host: "t1.expertflow.com"])
            #expect(ok.status == .ok, "\(ok.headers)")
            #expect(ok.headers[HTTPField.Name("X-Auth-Tenant")!] == "t1")
            #expect(ok.headers[HTTPField.Name("X-Auth-Subject")!] == "user-t1")
            #expect(ok.headers[HTTPField.Name("X-Auth-Roles")!] == "agent")
            #expect(ok.headers[HTTPField.Name("X-Auth-Scope")!] == "profile email")
            #expect(try await client.send(.get, "/v1/verify", key: user, headers: [host: "t2.expertflow.com"]).status == .forbidden)
            let master = try double.token("master", claims: callers.keycloakClaims(double, realm: "master", roles: ["admin"]))
            #expect(try await client.send(.get, "/v1/verify", key: master, headers: [host: "t1.expertflow.com"]).status == .forbidden)
            #expect(try await client.send(.get, "/v1/verify", key: master).status == .ok)
            let expired = try double.token("t1", claims: callers.keycloakClaims(double, realm: "t1", roles: ["agent"], ttl: -300))
            #expect(try await client.send(.get, "/v1/verify", key: expired).status == .unauthorized)

            let all = try await client.apiKey(["token:introspect"])
            let onlyT2 = try await client.apiKey(["token:introspect"], tenants: ["t2"])
            let active = try await client.form("/oauth2/introspect", [("token", user)], basic: clientCredentials(all))
            #expect(try active.json["active"] == .bool(true))
            #expect(try active.json["tenant_id"] == .string("t1"))
            #expect(try active.json["iss"] == .string(double.issuer("t1")))
            #expect(try await client.form("/oauth2/introspect", [("token", user)], basic: clientCredentials(onlyT2)).json == ["active": .bool(false)])
            #expect(try await client.form("/oauth2/introspect", [("token", master)], basic: clientCredentials(all)).json["active"] == .bool(false),
                    "only system admins may introspect master-realm tokens")

            _ = try await client.send(.post, "/v1/tenants/t1/suspend")
            #expect(try await client.send(.get, "/v1/verify", key: user).status == .unauthorized)
            #expect(try await client.form("/oauth2/introspect", [("token", user)], basic: clientCredentials(all)).json == ["active": .bool(false)])
        }
    }
}
