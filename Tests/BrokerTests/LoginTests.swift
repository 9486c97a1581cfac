import Foundation
import HTTPTypes
import JOSE
import KeycloakDouble
import Testing

/// A Keycloak double with a master realm whose `token-broker` client allows direct grants, and users in
/// every state the contract maps.
func loginDouble(realms: [String] = ["master"], confidentialSecret: String? = nil) async throws -> KeycloakDouble {
    let double = try KeycloakDouble(realms: realms)
    double.addClient("master", "token-broker", .init(secret: confidentialSecret))
    double.addUser("master", "ada", .init(password: "s3cr&t +=%é", email: "ada@example.com", roles: ["admin"]))
    double.addUser("master", "bob", .init(password: "bob-pass", enabled: false))
    double.addUser("master", "carl", .init(password: "carl-pass", requiredActions: true))
    try await double.start()
    return double
}

func credentials(_ username: String, _ password: String) -> JSONValue {
    .object(["username": .string(username), "password": .string(password)])
}

@Suite("portal login through Keycloak: /v1/login, /v1/login/refresh, /v1/logout", .serialized) struct LoginTests {
    @Test("login, refresh and logout end to end; the answer is Keycloak's token response, trimmed, never cached")
    func happyPath() async throws {
        let double = try await loginDouble()
        defer { double.stop() }
        let harness = try await RegistryHarness.make(.sqlite, flags: ["keycloakUrl": double.base])
        try await harness.run { client in
            let login = try await client.send(.post, "/v1/login", json: credentials("ada", "s3cr&t +=%é"), key: .some(nil))
            #expect(login.status == .ok, "\(login.text)")
            let tokens = try login.json
            #expect(tokens["token_type"] == .string("Bearer"))
            #expect(tokens["expires_in"] == .int(double.accessTokenLifespan))
            #expect(tokens["refresh_expires_in"] == .int(1800))
            #expect(tokens["scope"]?.stringValue?.split(separator: " ").contains("openid") == true)
            #expect(tokens["id_token"] != nil, "scope openid is sent by default, so an ID token comes back")
            #expect(tokens["session_state"] == nil && tokens["not-before-policy"] == nil, "Keycloak internals are not passed on")
            #expect(login.headers[.cacheControl] == "no-store")
            let sent = double.forms.last { $0.path == "token" }!
            #expect(sent.form["client_id"] == "token-broker" && sent.form["scope"] == "openid" && sent.form["grant_type"] == "password")
            #expect(sent.form["password"] == "s3cr&t +=%é", "the password survives form encoding byte for byte")

            // The access token is a credential for the admin API at once.
            let access = try #require(tokens["access_token"]?.stringValue)
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: access).status == .ok)

            let refresh = try #require(tokens["refresh_token"]?.stringValue)
            let refreshed = try await client.send(.post, "/v1/login/refresh", json: .object(["refresh_token": .string(refresh)]), key: .some(nil))
            #expect(refreshed.status == .ok)
            #expect(try refreshed.json["access_token"]?.stringValue != access)
            let newRefresh = try #require(try refreshed.json["refresh_token"]?.stringValue)

            #expect(double.activeSessions == 1)
            let logout = try await client.send(.post, "/v1/logout", json: .object(["refresh_token": .string(newRefresh)]), key: .some(nil))
            #expect(logout.status == .noContent)
            #expect(double.activeSessions == 0, "the Keycloak session is ended")
            let afterLogout = try await client.send(.post, "/v1/login/refresh", json: .object(["refresh_token": .string(refresh)]), key: .some(nil))
            #expect(afterLogout.status == .unauthorized && afterLogout.code == "invalid_refresh_token")
            #expect(!afterLogout.text.contains("Session not active"), "Keycloak's description is not echoed")
        }
    }

    @Test("Keycloak's refusals map on the error code, for both wrong-password statuses", arguments: [HTTPResponse.Status.unauthorized, .badRequest])
    func errorMapping(wrongPasswordStatus: HTTPResponse.Status) async throws {
        let double = try await loginDouble()
        defer { double.stop() }
        double.setWrongPasswordStatus(wrongPasswordStatus)
        let harness = try await RegistryHarness.make(.sqlite, flags: ["keycloakUrl": double.base, "loginMaxFailuresPerUser": "0"])
        try await harness.run { client in
            let wrong = try await client.send(.post, "/v1/login", json: credentials("ada", "nope"), key: .some(nil))
            let unknown = try await client.send(.post, "/v1/login", json: credentials("nobody", "nope"), key: .some(nil))
            #expect(wrong.status == .unauthorized && wrong.code == "invalid_credentials")
            #expect(unknown.status == wrong.status && unknown.body == wrong.body, "unknown user and wrong password answer identically")
            #expect(!wrong.text.contains("Invalid user credentials") && !wrong.text.contains("nope"))
            let disabled = try await client.send(.post, "/v1/login", json: credentials("bob", "bob-pass"), key: .some(nil))
            #expect(disabled.status == .forbidden && disabled.code == "account_disabled")
            let setup = try await client.send(.post, "/v1/login", json: credentials("carl", "carl-pass"), key: .some(nil))
            #expect(setup.status == .forbidden && setup.code == "account_setup_required")
            // A client that may not use direct grants is another 4xx: invalid_credentials to the caller, the reason in the log.
            double.addClient("master", "token-broker", .init(directGrants: false))
            let misconfigured = try await client.send(.post, "/v1/login", json: credentials("ada", "s3cr&t +=%é"), key: .some(nil))
            #expect(misconfigured.status == .unauthorized && misconfigured.code == "invalid_credentials")
            let garbage = try await client.send(.post, "/v1/login/refresh", json: .object(["refresh_token": .string("not-a-token")]), key: .some(nil))
            #expect(garbage.status == .unauthorized && garbage.code == "invalid_refresh_token")
        }
    }

    @Test("malformed, missing, oversized and hostile login bodies get the contract's errors without calling Keycloak")
    func badInput() async throws {
        let double = try await loginDouble()
        defer { double.stop() }
        let harness = try await RegistryHarness.make(.sqlite, flags: ["keycloakUrl": double.base])
        try await harness.run { client in
            for path in ["/v1/login", "/v1/login/refresh", "/v1/logout"] {
                #expect(try await client.send(.post, path, raw: Array("{\"username\":".utf8), key: .some(nil)).status == .badRequest)
                #expect(try await client.send(.post, path, raw: Array("[]".utf8), key: .some(nil)).status == .unprocessableContent)
                #expect(try await client.send(.post, path, json: .object([:]), key: .some(nil)).status == .unprocessableContent)
                let huge = JSONValue.object(["username": .string(String(repeating: "a", count: 70 * 1024)), "password": .string("x")])
                #expect(try await client.send(.post, path, json: huge, key: .some(nil)).status == .contentTooLarge)
            }
            let missing = try await client.send(.post, "/v1/login", json: .object(["username": .int(3)]), key: .some(nil))
            #expect(missing.status == .unprocessableContent)
            #expect(try missing.errorFields == ["password", "username"], "every bad field at once")
            let hostile: [JSONValue] = [
                credentials("ada\r\nX-Injected: 1", "x"), credentials("", "x"), credentials("ada", ""),
                credentials("ada", String(repeating: "p", count: 2000)),
                .object(["username": .string("ada"), "password": .string("x"), "grant_type": .string("client_credentials")]),
                .object(["username": .array([]), "password": .object([:])]),
            ]
            for body in hostile {
                let reply = try await client.send(.post, "/v1/login", json: body, key: .some(nil))
                #expect(reply.status == .unprocessableContent, "\(body)")
            }
            #expect(double.count("token") == 0, "nothing reached Keycloak")
        }
    }

    @Test("broker-side throttling: per username, then per client address; Keycloak is not asked while throttled")
    func throttling() async throws {
        let double = try await loginDouble()
        defer { double.stop() }
        let clock = TestClock(Date())
        let harness = try await RegistryHarness.make(
            .sqlite, clock: clock, flags: ["keycloakUrl": double.base, "loginMaxFailuresPerUser": "5", "loginMaxFailuresPerIp": "8", "loginFailureWindow": "60"])
        try await harness.run(live: true) { client in
            for _ in 0..<5 {
                #expect(try await client.send(.post, "/v1/login", json: credentials("ADA", "wrong"), key: .some(nil)).status == .unauthorized)
            }
            let calls = double.count("token")
            let throttled = try await client.send(.post, "/v1/login", json: credentials("ada", "s3cr&t +=%é"), key: .some(nil))
            #expect(throttled.status == .tooManyRequests && throttled.code == "too_many_attempts", "even the right password, and usernames fold case")
            let retryAfter = try #require(throttled.headers[.retryAfter].flatMap(Int.init))
            #expect((1...60).contains(retryAfter))
            #expect(double.count("token") == calls, "a throttled login never reaches Keycloak")
            // Other users are not affected until the address itself reaches its limit (8 failures from one address).
            #expect(try await client.send(.post, "/v1/login", json: credentials("bob", "x"), key: .some(nil)).status == .unauthorized)
            #expect(try await client.send(.post, "/v1/login", json: credentials("carl", "x"), key: .some(nil)).status == .unauthorized)
            #expect(try await client.send(.post, "/v1/login", json: credentials("dave", "x"), key: .some(nil)).status == .unauthorized)
            let sprayed = try await client.send(.post, "/v1/login", json: credentials("erin", "x"), key: .some(nil))
            #expect(sprayed.status == .tooManyRequests, "8 failures from one address: password spraying is stopped")
            clock.set(clock.now.addingTimeInterval(61))
            let later = try await client.send(.post, "/v1/login", json: credentials("ada", "s3cr&t +=%é"), key: .some(nil))
            #expect(later.status == .ok, "after the window the user can log in again")
        }
    }

    @Test("Keycloak failing, answering HTML, hanging or down: 503 upstream_unavailable; cached keys keep admin calls working")
    func upstreamFailures() async throws {
        let double = try await loginDouble()
        let harness = try await RegistryHarness.make(.sqlite, flags: ["keycloakUrl": double.base, "keycloakTimeout": "1", "jwksMinRefetchInterval": "0"])
        try await harness.run(live: true) { client in
            let good = try await client.send(.post, "/v1/login", json: credentials("ada", "s3cr&t +=%é"), key: .some(nil))
            let access = try #require(try good.json["access_token"]?.stringValue)
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: access).status == .ok, "the master realm's key is now cached")

            for mode in [KeycloakDouble.Mode.failing, .html, .hanging(.seconds(5))] {
                double.set(mode)
                let started = ContinuousClock.now
                let reply = try await client.send(.post, "/v1/login", json: credentials("ada", "s3cr&t +=%é"), key: .some(nil))
                #expect(reply.status == .serviceUnavailable && reply.code == "upstream_unavailable", "\(mode): \(reply.text)")
                #expect(ContinuousClock.now - started < .seconds(4), "\(mode): bounded by --keycloak-timeout")
                #expect(!reply.text.contains("html") && !reply.text.contains("unknown_error"), "the provider's body is not echoed")
                let refresh = try await client.send(.post, "/v1/login/refresh", json: .object(["refresh_token": .string("x")]), key: .some(nil))
                #expect(refresh.status == .serviceUnavailable, "\(mode)")
            }
            double.set(.normal)
            await double.goDown()
            let downStart = ContinuousClock.now
            let down = try await client.send(.post, "/v1/login", json: credentials("ada", "s3cr&t +=%é"), key: .some(nil))
            #expect(down.status == .serviceUnavailable && down.code == "upstream_unavailable")
            // A refused connection is not retried until the 3 s connect timeout: the 503 comes at once.
            #expect(ContinuousClock.now - downStart < .seconds(1), "a refused connection fails fast")
            #expect(down.headers[.retryAfter] != nil)
            let admin = try await client.send(.get, "/v1/dashboard/summary", key: access)
            #expect(admin.status == .ok, "admin calls with a cached key keep working while Keycloak is down")
            // A token with a new kid forces a refetch, which fails: the old keys keep serving, and readiness says so.
            _ = try double.rotate("master", dropOld: false)
            let newKid = try double.token("master", claims: try JWS.unverifiedClaims(access))
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: newKid).status == .unauthorized)
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: access).status == .ok)
            let ready = try await client.send(.get, "/readyz", key: .some(nil))
            #expect(ready.status == .ok, "Keycloak being down does not make the broker unready")
            let jwksCheck = try ready.json["checks"]?.objectValue?["keycloak_jwks"]?.objectValue
            #expect(jwksCheck?["status"] == .string("stale"), "\(ready.text)")
            let metrics = try await client.send(.get, "/metrics", key: .some(nil)).text
            #expect(metrics.contains("token_broker_jwks_stale_issuers 1"), "\(metrics.split(separator: "\n").filter { $0.contains("jwks") })")
            #expect(metrics.contains("token_broker_jwks_fetches_total{result=\"failure\"}"))
            #expect(metrics.contains("token_broker_upstream_calls_total{upstream=\"keycloak\",operation=\"password\",outcome=\"error\"}"))
        }
    }

    @Test("logout falls back to RFC 7009 revocation when the provider has no end_session_endpoint")
    func logoutFallback() async throws {
        let double = try await loginDouble()
        defer { double.stop() }
        double.omitFromDiscovery(["end_session_endpoint"])
        let harness = try await RegistryHarness.make(.sqlite, flags: ["keycloakUrl": double.base])
        try await harness.run { client in
            let login = try await client.send(.post, "/v1/login", json: credentials("ada", "s3cr&t +=%é"), key: .some(nil))
            let refresh = try #require(try login.json["refresh_token"]?.stringValue)
            #expect(try await client.send(.post, "/v1/logout", json: .object(["refresh_token": .string(refresh)]), key: .some(nil)).status == .noContent)
            #expect(double.count("logout") == 0 && double.count("revoke") == 1)
            #expect(double.activeSessions == 0)
        }
    }

    @Test("lightweight tokens (no roles claim) are introspected once with the broker's client and cached until exp")
    func lightweightIntrospection() async throws {
        let double = try await loginDouble(confidentialSecret: "broker-secret")
        defer { double.stop() }
        double.addClient("master", "token-broker", .init(secret: "broker-secret", lightweight: true))
        let harness = try await RegistryHarness.make(.sqlite, flags: ["keycloakUrl": double.base, "keycloakClientSecret": "broker-secret"])
        try await harness.run { client in
            let login = try await client.send(.post, "/v1/login", json: credentials("ada", "s3cr&t +=%é"), key: .some(nil))
            #expect(login.status == .ok, "\(login.text)")
            let access = try #require(try login.json["access_token"]?.stringValue)
            let claims = try JWS.unverifiedClaims(access)
            #expect(claims["realm_access"] == nil && claims["sub"] == nil, "the double issues a lightweight token")
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: access).status == .ok, "roles came from introspection")
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: access).status == .ok)
            #expect(double.count("introspect") == 1, "asked once, then cached")
            let introspection = double.forms.last { $0.path == "introspect" }!
            #expect(introspection.form["client_secret"] == "broker-secret")
            // A token whose session was ended before its first use: the provider says inactive, so it is refused.
            _ = try await client.send(.post, "/v1/logout", json: .object(["refresh_token": try login.json["refresh_token"]!]), key: .some(nil))
            let other = try await client.send(.post, "/v1/login", json: credentials("ada", "s3cr&t +=%é"), key: .some(nil))
            let revokedSession = try #require(try other.json["access_token"]?.stringValue)
            _ = try await client.send(.post, "/v1/logout", json: .object(["refresh_token": try other.json["refresh_token"]!]), key: .some(nil))
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: revokedSession).status == .unauthorized, "inactive at the provider: refused")
        }
    }

    @Test("--keycloak-azp and --keycloak-audience bind master-realm tokens to the broker")
    func audienceAndAzp() async throws {
        let double = try await loginDouble()
        defer { double.stop() }
        let now = Int64(Date().timeIntervalSince1970)
        @Sendable func token(azp: String, aud: JSONValue) throws -> String {
            try double.token("master", claims: [
                "iss": .string(double.issuer("master")), "sub": .string("u1"), "typ": .string("Bearer"), "azp": .string(azp), "aud": aud,
                "exp": .int(now + 300), "iat": .int(now), "realm_access": .object(["roles": .array([.string("admin")])]),
            ])
        }
        let harness = try await RegistryHarness.make(
            .sqlite, flags: ["keycloakUrl": double.base, "keycloakAzp": "token-broker, portal", "keycloakAudience": "token-broker"])
        try await harness.run { client in
            let bound = try token(azp: "portal", aud: .array([.string("account"), .string("token-broker")]))
            let wrongAzp = try token(azp: "admin-cli", aud: .string("token-broker"))
            let wrongAud = try token(azp: "portal", aud: .string("account"))
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: bound).status == .ok)
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: wrongAzp).status == .unauthorized)
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: wrongAud).status == .unauthorized)
        }
    }
}
