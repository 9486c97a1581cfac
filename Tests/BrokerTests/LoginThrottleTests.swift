import Foundation
import HTTPTypes
import JOSE
import KeycloakDouble
import StoreTestSupport
import Testing

/// The failed-login throttle and the tenant's per-minute counters as an attacker meets them: guesses in
/// parallel, guesses that spend someone else's budget, a store that is down.
@Suite("login throttle and per-minute counters under attack", .serialized)
struct LoginThrottleTests {
    @Test("twelve parallel guesses for one user: at most the limit (3) reach Keycloak, the rest are 429 too_many_attempts", arguments: Backend.allCases)
    func parallelGuesses(backend: Backend) async throws {
        let double = try await loginDouble()
        defer { double.stop() }
        let harness = try await RegistryHarness.make(
            backend, flags: ["keycloakUrl": double.base, "loginMaxFailuresPerUser": "3", "loginMaxFailuresPerIp": "0", "loginFailureWindow": "60"])
        // Keycloak takes its time, so every guess is in flight before the first one has failed.
        double.set(.hanging(.milliseconds(400)))
        try await harness.run(live: true) { client in
            let before = double.count("token")
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<12 {
                    group.addTask { try await client.send(.post, "/v1/login", json: credentials("ada", "wrong"), key: .some(nil)).status }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .unauthorized }.count == 3, "\(statuses)")
            #expect(statuses.filter { $0 == .tooManyRequests }.count == 9, "\(statuses)")
            #expect(double.count("token") - before == 3, "only three guesses reached Keycloak")
        }
    }

    @Test("a success clears the user's failures but not the address's; an attempt Keycloak never judged is given back")
    func successAndOutage() async throws {
        let double = try await loginDouble()
        defer { double.stop() }
        let harness = try await RegistryHarness.make(
            .sqlite, flags: ["keycloakUrl": double.base, "loginMaxFailuresPerUser": "3", "loginMaxFailuresPerIp": "5", "keycloakTimeout": "1"])
        try await harness.run(live: true) { client in
            for _ in 0..<2 { #expect(try await client.send(.post, "/v1/login", json: credentials("ada", "wrong"), key: .some(nil)).status == .unauthorized) }
            #expect(try await client.send(.post, "/v1/login", json: credentials("ada", "s3cr&t +=%é"), key: .some(nil)).status == .ok)
            // Keycloak failing: neither the user's nor the address's count moves.
            double.set(.failing)
            for _ in 0..<4 {
                #expect(try await client.send(.post, "/v1/login", json: credentials("ada", "wrong"), key: .some(nil)).status == .serviceUnavailable)
            }
            double.set(.normal)
            // The success cleared ada's two failures: three more are allowed, the fourth is throttled.
            for _ in 0..<3 { #expect(try await client.send(.post, "/v1/login", json: credentials("ada", "wrong"), key: .some(nil)).status == .unauthorized) }
            let user = try await client.send(.post, "/v1/login", json: credentials("ada", "wrong"), key: .some(nil))
            #expect(user.status == .tooManyRequests && user.code == "too_many_attempts", "\(user.text)")
            // The address has 2 + 3 failures (the success gave its own place back, the outage gave back four): full.
            let address = try await client.send(.post, "/v1/login", json: credentials("bob", "x"), key: .some(nil))
            #expect(address.status == .tooManyRequests && address.code == "too_many_attempts", "\(address.text)")
        }
    }

    @Test("a refusal of the broker's client (wrong client secret: unauthorized_client) answers 401 but judges no password: it never throttles the user")
    func clientRefusalNotCounted() async throws {
        let double = try await loginDouble(confidentialSecret: "broker-secret")
        defer { double.stop() }
        let harness = try await RegistryHarness.make(
            .sqlite, flags: ["keycloakUrl": double.base, "keycloakClientSecret": "rotated-away", "loginMaxFailuresPerUser": "2", "loginMaxFailuresPerIp": "3"])
        try await harness.run(live: true) { client in
            for _ in 0..<6 {
                let reply = try await client.send(.post, "/v1/login", json: credentials("ada", "s3cr&t +=%é"), key: .some(nil))
                #expect(reply.status == .unauthorized && reply.code == "invalid_credentials", "\(reply.text)")
            }
            #expect(double.count("token") == 6, "every attempt reached Keycloak: none was counted against ada or the address")
        }
    }

    @Test("a store that cannot count refuses the login with 503 store_unavailable; Keycloak is not asked")
    func storeDown() async throws {
        let double = try await loginDouble()
        defer { double.stop() }
        let harness = try await RegistryHarness.make(.sqlite, flags: ["keycloakUrl": double.base, "loginMaxFailuresPerUser": "5"])
        try await harness.run(live: true) { client in
            await harness.broker.tenants.store.close()
            let before = double.count("token")
            let reply = try await client.send(.post, "/v1/login", json: credentials("ada", "s3cr&t +=%é"), key: .some(nil))
            #expect(reply.status == .serviceUnavailable && reply.code == "store_unavailable", "\(reply.text)")
            #expect(double.count("token") == before, "no unthrottled guess reaches Keycloak")
        }
    }

    @Test("throttled guesses spend none of the tenant's logins per minute; accepted logins carry RateLimit headers of both limits", arguments: Backend.allCases)
    func throttledSpendNothing(backend: Backend) async throws {
        let fixture = try await OTPFixture.make(backend, flags: ["loginMaxFailuresPerUser": "2", "loginMaxFailuresPerIp": "0"])
        defer { fixture.stop() }
        fixture.keycloak.addUser("t1", "other", .init(password: "other-pass", email: "o@example.com", phone: "+15557654321", roles: ["agent"]))
        try await fixture.harness.run { client in
            var body = fixture.tenant("t1").objectValue!
            body["limits"] = .object(["loginPerMinute": .int(4), "otpPerMinute": .int(10)])
            #expect(try await client.send(.post, "/v1/tenants", json: .object(body)).status == .created)
            let wrong: [String: JSONValue] = ["username": .string("agent"), "password": .string("wrong")]
            for _ in 0..<2 { #expect(try await client.post("/v1/tenants/t1/login", wrong).status == .unauthorized) }
            for _ in 0..<6 {
                let throttled = try await client.post("/v1/tenants/t1/login", wrong)
                #expect(throttled.status == .tooManyRequests && throttled.code == "too_many_attempts", "\(throttled.text)")
            }
            // Two of the tenant's four logins are spent; two remain for someone else.
            let right: [String: JSONValue] = ["username": .string("other"), "password": .string("other-pass")]
            let accepted = try await client.post("/v1/tenants/t1/login", right)
            #expect(accepted.status == .accepted, "\(accepted.text)")
            #expect(accepted.headers[values: RateLimitTests.policy] == ["\"login\";q=4;w=60", "\"otp\";q=10;w=60"])
            let state = accepted.headers[values: RateLimitTests.state]
            #expect(state.count == 2 && state[0].hasPrefix("\"login\";r=1;t=") && state[1].hasPrefix("\"otp\";r=9;t="), "\(state)")
            #expect(try await client.post("/v1/tenants/t1/login", right).status == .accepted)
            let refused = try await client.post("/v1/tenants/t1/login", right)
            #expect(refused.status == .tooManyRequests && refused.code == "rate_limited", "\(refused.text)")
            let metrics = try await client.send(.get, "/metrics")
            let limited = metrics.text.split(separator: "\n").filter { $0.hasPrefix("token_broker_rate_limited_total{") }
            #expect(limited.contains("token_broker_rate_limited_total{route=\"/v1/tenants/{tenantId}/login\",limit=\"login\",tenant=\"other\"} 1"), "\(limited)")
            #expect(limited.contains("token_broker_rate_limited_total{route=\"/v1/tenants/{tenantId}/login\",limit=\"failed_login\",tenant=\"other\"} 6"), "\(limited)")
        }
    }

    @Test("a resend refused by the tenant's OTP limit keeps the challenge's resend; an OTP Manager refusal gives the send back")
    func resendRefund() async throws {
        let clock = TestClock(Date())
        let fixture = try await OTPFixture.make(clock: clock, flags: ["otpResendLimit": "1", "otpResendInterval": "30"])
        defer { fixture.stop() }
        try await fixture.harness.run { client in
            var body = fixture.tenant("t1", expiry: 300).objectValue!
            body["limits"] = .object(["otpPerMinute": .int(2)])
            #expect(try await client.send(.post, "/v1/tenants", json: .object(body)).status == .created)
            let key = try await client.apiKey(["otp"], tenants: ["t1"])
            let login = try await client.post("/v1/tenants/t1/login", ["username": .string("agent"), "password": .string("agent-pass")])
            #expect(login.headers[values: RateLimitTests.state].contains { $0.hasPrefix("\"otp\";r=1;") }, "\(login.headers)")
            let id = try #require(try login.json["challengeId"]?.stringValue)
            // A send the OTP Manager refuses (4xx) sent nothing: it is given back.
            fixture.otp.set(.rejectSends)
            #expect(try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key).status == .badGateway)
            fixture.otp.set(.normal)
            #expect(try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key).status == .accepted)
            clock.set(clock.now.addingTimeInterval(30))
            let refused = try await client.post("/v1/tenants/t1/login/otp/resend", ["challengeId": .string(id)])
            #expect(refused.status == .tooManyRequests && refused.code == "rate_limited", "\(refused.text)")
            #expect(refused.headers[RateLimitTests.policy] == "\"otp\";q=2;w=60")
            // The next minute: the challenge still has its one resend.
            clock.set(clock.now.addingTimeInterval(31))
            let resent = try await client.post("/v1/tenants/t1/login/otp/resend", ["challengeId": .string(id)])
            #expect(resent.status == .accepted, "\(resent.text)")
            #expect(resent.headers[values: RateLimitTests.state].first?.hasPrefix("\"otp\";r=1;") == true)
        }
    }
}
