import Foundation
import HTTPTypes
import JOSE
import KeycloakDouble
import OTPManagerDouble
import StoreTestSupport
import Testing

/// A tenant realm at the Keycloak double, an OTP Manager double, and a broker whose tenant `t1` uses both.
struct OTPFixture: Sendable {
    let harness: RegistryHarness
    let keycloak: KeycloakDouble
    let otp: OTPManagerDouble
    static let sealingKey = Base64URL.encode(Array(repeating: 7, count: 32))

    static func make(
        _ backend: Backend = .sqlite, channel: String = "SMS", retryLimit: Int = 3, expiry: Int = 120, clock: TestClock = TestClock(Date()),
        flags: [String: String] = [:], tenants: [String] = ["t1"]
    ) async throws -> OTPFixture {
        let keycloak = try KeycloakDouble(realms: ["master"] + tenants)
        for tenant in tenants {
            keycloak.addClient(tenant, "cx-portal", .init(secret: "s3cret-\(tenant)"))
            keycloak.addUser(tenant, "agent", .init(password: "agent-pass", email: "jane@example.com", phone: "+15551234567", roles: ["agent"]))
            keycloak.addUser(tenant, "nophone", .init(password: "pw", email: "x@example.com"))
        }
        try await keycloak.start()
        let otp = OTPManagerDouble()
        try await otp.start()
        var all = ["keycloakUrl": keycloak.base, "otpSealingKey": sealingKey, "otpDeadline": "2", "otpBackoffBase": "10", "otpBackoffCap": "50"]
        all.merge(flags) { _, new in new }
        let harness = try await RegistryHarness.make(backend, clock: clock, flags: all)
        return OTPFixture(harness: harness, keycloak: keycloak, otp: otp)
    }

    func tenant(_ id: String, channel: String = "SMS", retryLimit: Int = 3, expiry: Int = 120, otpURL: String? = nil, enabled: Bool = true) -> JSONValue {
        tenantBody(id, twoFA: enabled) { body in
            var keycloak = body["keycloak"]!.objectValue!
            keycloak["Otp_Manager_Url"] = .string(otpURL ?? otp.url)
            body["keycloak"] = .object(keycloak)
            if enabled {
                body["twoFAConfig"] = .object([
                    "isEnabled": .bool(true), "channelType": .string(channel), "serviceIdentifier": .string("svc-1"),
                    "otpExpiry": .int(Int64(expiry)), "retryLimit": .int(Int64(retryLimit)),
                ])
            }
        }
    }

    func stop() {
        keycloak.stop()
        otp.stop()
    }
}

extension RegistryHarness.Client {
    func post(_ uri: String, _ body: [String: JSONValue], key: String?? = .some(nil)) async throws -> Reply {
        try await send(.post, uri, json: .object(body), key: key)
    }
}

@Suite("OTP proxy and tenant login with a second factor", .serialized) struct OTPTests {
    @Test("tenant login, SMS and Email: 202 with a challenge, the right code releases Keycloak's tokens", arguments: ["SMS", "Email"])
    func loginHappyPath(channel: String) async throws {
        let fixture = try await OTPFixture.make()
        defer { fixture.stop() }
        try await fixture.harness.run { client in
            #expect(try await client.send(.post, "/v1/tenants", json: fixture.tenant("t1", channel: channel)).status == .created)
            let login = try await client.post("/v1/tenants/t1/login", ["username": .string("agent"), "password": .string("agent-pass")])
            #expect(login.status == .accepted, "\(login.text)")
            let challenge = try login.json
            let id = try #require(challenge["challengeId"]?.stringValue)
            #expect(id.utf8.count >= 22, "at least 128 bits")
            #expect(challenge["channel"] == .string(channel) && challenge["attemptsRemaining"] == .int(3) && challenge["expiresIn"] == .int(120))
            #expect(challenge["access_token"] == nil, "no tokens before the second factor")
            let sent = try #require(fixture.otp.requests.first { $0.path == "generate" })
            #expect(sent.body["recipient"] == .string(channel == "SMS" ? "+15551234567" : "jane@example.com"))
            #expect(sent.body["channelType"] == .string(channel) && sent.body["serviceIdentifier"] == .string("svc-1"))
            #expect(sent.body["expirySeconds"] == .int(120) && sent.body["reference"] == .string(id) && sent.body["tenantId"] == .string("t1"))
            #expect(sent.idempotencyKey == "\(id)-1")
            #expect(sent.requestId == login.headers[HTTPField.Name("X-Request-Id")!], "the request id travels to the OTP Manager")
            let code = try #require(fixture.otp.code(for: id))
            let done = try await client.post("/v1/tenants/t1/login/otp", ["challengeId": .string(id), "otp": .string(code)])
            #expect(done.status == .ok, "\(done.text)")
            #expect(try done.json["access_token"]?.stringValue != nil && (try done.json["token_type"]) == .string("Bearer"))
            #expect(done.headers[.cacheControl] == "no-store")
            let again = try await client.post("/v1/tenants/t1/login/otp", ["challengeId": .string(id), "otp": .string(code)])
            #expect(again.status == .notFound && again.code == "challenge_not_found", "a code releases tokens once")
            let verify = fixture.otp.requests.first { $0.path == "verify" }
            #expect(verify?.body["otpId"] == .string("otp-1"), "the otpId of the send is sent back")
            // Nothing secret at rest: the store holds ciphertext only, and it is wiped once the challenge ends.
            let stored = try await fixture.harness.broker.tenants.store.challenge(id)
            #expect(stored?.sealedTokens == nil && stored?.sealedRecipient == nil && stored?.state == .verified)
            #expect(stored?.maskedRecipient == (channel == "SMS" ? "+1555***4567" : "j***@example.com"))
            let audit = try await client.send(.get, "/v1/audit?tenantId=t1").json["items"]?.arrayValue ?? []
            let actions = audit.compactMap { $0.objectValue?["action"]?.stringValue?.split(separator: ":").first.map(String.init) }
            #expect(actions.contains("otp.sent") && actions.contains("otp.verified"))
            #expect(!"\(audit)".contains(code) && !"\(audit)".contains("5551234567"), "codes and recipients stay out of the audit log")
        }
    }

    @Test("wrong codes count down; the last one answers 0, then 429 even for the right code")
    func exhaustion() async throws {
        let fixture = try await OTPFixture.make()
        defer { fixture.stop() }
        try await fixture.harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: fixture.tenant("t1", retryLimit: 3))
            let id = try #require(try await client.post("/v1/tenants/t1/login", ["username": .string("agent"), "password": .string("agent-pass")]).json["challengeId"]?.stringValue)
            for remaining in [2, 1, 0] {
                let wrong = try await client.post("/v1/tenants/t1/login/otp", ["challengeId": .string(id), "otp": .string("000000x")])
                #expect(wrong.status == .unauthorized && wrong.code == "invalid_otp")
                #expect(try wrong.json["attemptsRemaining"] == .int(Int64(remaining)))
            }
            let right = try await client.post("/v1/tenants/t1/login/otp", ["challengeId": .string(id), "otp": .string(fixture.otp.code(for: id)!)])
            #expect(right.status == .tooManyRequests && right.code == "otp_attempts_exhausted")
            #expect(fixture.otp.calls("verify") == 3, "the dead challenge is not checked with the OTP Manager")
            let resend = try await client.post("/v1/tenants/t1/login/otp/resend", ["challengeId": .string(id)])
            #expect(resend.status == .tooManyRequests, "a dead challenge cannot be revived by a resend")
            #expect(fixture.keycloak.activeSessions == 0, "the held tokens' Keycloak session is ended with the challenge")
        }
    }

    @Test("expiry is the broker's: with a manager that accepts any code, an expired challenge answers 410 without asking it")
    func expiryEnforced() async throws {
        let clock = TestClock(Date())
        let fixture = try await OTPFixture.make(clock: clock)
        defer { fixture.stop() }
        fixture.otp.set(.acceptAny)
        try await fixture.harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: fixture.tenant("t1", expiry: 60))
            let key = try await client.apiKey(["otp"], tenants: ["t1"])
            let issued = try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key)
            #expect(issued.status == .accepted, "\(issued.text)")
            let id = try #require(try issued.json["challengeId"]?.stringValue)
            clock.set(clock.now.addingTimeInterval(61))
            let late = try await client.post("/v1/tenants/t1/otp/\(id)/verify", ["otp": .string("anything1")], key: key)
            #expect(late.status == .gone && late.code == "otp_expired")
            #expect(fixture.otp.calls("verify") == 0)
            // Within the lifetime the lenient manager's "valid" is accepted: the broker only adds limits.
            let fresh = try #require(try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key).json["challengeId"]?.stringValue)
            clock.set(clock.now.addingTimeInterval(59))
            #expect(try await client.post("/v1/tenants/t1/otp/\(fresh)/verify", ["otp": .string("anything1")], key: key).status == .ok)
        }
    }

    @Test("resend: capped, spaced, and never resets attempts or extends the lifetime")
    func resend() async throws {
        let clock = TestClock(Date())
        let fixture = try await OTPFixture.make(clock: clock, flags: ["otpResendLimit": "2", "otpResendInterval": "30"])
        defer { fixture.stop() }
        try await fixture.harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: fixture.tenant("t1", retryLimit: 3, expiry: 300))
            let id = try #require(try await client.post("/v1/tenants/t1/login", ["username": .string("agent"), "password": .string("agent-pass")]).json["challengeId"]?.stringValue)
            _ = try await client.post("/v1/tenants/t1/login/otp", ["challengeId": .string(id), "otp": .string("bad")])
            let tooSoon = try await client.post("/v1/tenants/t1/login/otp/resend", ["challengeId": .string(id)])
            #expect(tooSoon.status == .tooManyRequests && tooSoon.code == "resend_too_soon" && tooSoon.headers[.retryAfter] == "30")
            clock.set(clock.now.addingTimeInterval(30))
            fixture.otp.failNext(3)
            let failed = try await client.post("/v1/tenants/t1/login/otp/resend", ["challengeId": .string(id)])
            #expect(failed.status == .serviceUnavailable, "\(failed.text)")
            let first = try await client.post("/v1/tenants/t1/login/otp/resend", ["challengeId": .string(id)])
            #expect(first.status == .accepted, "\(first.text)")
            #expect(try first.json["attemptsRemaining"] == .int(2), "resend does not reset attempts")
            #expect(try first.json["expiresIn"] == .int(270), "nor extend the absolute lifetime")
            #expect(fixture.otp.requests.last?.idempotencyKey == "\(id)-2", "each send has its own key; the failed resend gave its number back")
            clock.set(clock.now.addingTimeInterval(30))
            #expect(try await client.post("/v1/tenants/t1/login/otp/resend", ["challengeId": .string(id)]).status == .accepted)
            clock.set(clock.now.addingTimeInterval(30))
            let capped = try await client.post("/v1/tenants/t1/login/otp/resend", ["challengeId": .string(id)])
            #expect(capped.status == .tooManyRequests && capped.code == "resend_limit_reached")
            #expect(fixture.otp.sends == 3)
            let code = try #require(fixture.otp.code(for: id))
            #expect(try await client.post("/v1/tenants/t1/login/otp", ["challengeId": .string(id), "otp": .string(code)]).status == .ok)
        }
    }

    @Test("retries reuse the Idempotency-Key; 429 Retry-After honoured; an outage refunds the attempt; a hang is 504 within the deadline")
    func upstreamTrouble() async throws {
        let fixture = try await OTPFixture.make(flags: ["otpDeadline": "2", "otpTries": "3"])
        defer { fixture.stop() }
        try await fixture.harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: fixture.tenant("t1"))
            let key = try await client.apiKey(["otp"], tenants: ["t1"])
            fixture.otp.failNext(2)
            let issued = try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key)
            #expect(issued.status == .accepted, "two 503s then success within three tries")
            let id = try #require(try issued.json["challengeId"]?.stringValue)
            let keys = fixture.otp.requests.filter { $0.path == "generate" }.map(\.idempotencyKey)
            #expect(keys == Array(repeating: "\(id)-1", count: 3), "the same Idempotency-Key on every retry")
            #expect(fixture.otp.sends == 1)

            fixture.otp.rateLimitNext(1, retryAfter: 1)
            let started = ContinuousClock.now
            #expect(try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key).status == .accepted)
            #expect(ContinuousClock.now - started >= .milliseconds(900), "Retry-After: 1 was waited for")

            // Verification during an outage: 503, and the attempt is given back.
            fixture.otp.failNext(3)
            let down = try await client.post("/v1/tenants/t1/otp/\(id)/verify", ["otp": .string("123456")], key: key)
            #expect(down.status == .serviceUnavailable && down.code == "otp_unavailable")
            let wrong = try await client.post("/v1/tenants/t1/otp/\(id)/verify", ["otp": .string("abc")], key: key)
            #expect(try wrong.json["attemptsRemaining"] == .int(2), "only the judged wrong code counted")

            fixture.otp.set(.hang(.seconds(10)))
            let hangStart = ContinuousClock.now
            let hung = try await client.post("/v1/tenants/t1/otp/\(id)/verify", ["otp": .string("123456")], key: key)
            #expect(hung.status == .gatewayTimeout && hung.code == "otp_timeout")
            #expect(ContinuousClock.now - hangStart < .seconds(4), "bounded by --otp-deadline")
            fixture.otp.set(.normal)
            let after = try await client.post("/v1/tenants/t1/otp/\(id)/verify", ["otp": .string("abc")], key: key)
            #expect(try after.json["attemptsRemaining"] == .int(1), "the timed-out attempt was refunded")

            fixture.otp.set(.rejectSends)
            let before = fixture.otp.calls("generate")
            let rejected = try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key)
            #expect(rejected.status == .badGateway && rejected.code == "otp_rejected", "\(rejected.text)")
            #expect(fixture.otp.calls("generate") == before + 1, "a definitive 4xx is not retried")
            fixture.otp.set(.normal)

            await fixture.otp.goDown()
            let refusedStart = ContinuousClock.now
            let refused = try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key)
            #expect(refused.status == .serviceUnavailable && refused.code == "otp_unavailable")
            #expect(ContinuousClock.now - refusedStart < .seconds(1), "refused connections fail fast, retries included")
            #expect(!refused.text.contains("5550001111"), "no recipient in error bodies")
        }
    }

    @Test("paths and field names are configurable for an OTP Manager that differs")
    func customMapping() async throws {
        let fixture = try await OTPFixture.make(flags: [
            "otpGeneratePath": "/custom/send", "otpVerifyPath": "custom/check", "otpFieldNames": "recipient=to, otp=code",
        ])
        defer { fixture.stop() }
        try await fixture.harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: fixture.tenant("t1"))
            let key = try await client.apiKey(["otp"], tenants: ["t1"])
            let id = try #require(try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key).json["challengeId"]?.stringValue)
            let sent = try #require(fixture.otp.requests.first)
            #expect(sent.body["to"] == .string("+15550001111") && sent.body["recipient"] == nil, "recipient renamed on the wire")
            let code = try #require(fixture.otp.code(for: id))
            #expect(try await client.post("/v1/tenants/t1/otp/\(id)/verify", ["otp": .string(code)], key: key).status == .ok)
            #expect(fixture.otp.requests.last?.body["code"] == .string(code))
            #expect(fixture.otp.calls("verify") == 1)
        }
    }

    @Test("after 5 failed operations in a row a tenant's circuit opens: calls fail at once without reaching its OTP Manager")
    func circuitBreaker() async throws {
        let fixture = try await OTPFixture.make(flags: ["otpTries": "2"])
        defer { fixture.stop() }
        try await fixture.harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: fixture.tenant("t1"))
            let key = try await client.apiKey(["otp"], tenants: ["t1"])
            fixture.otp.failNext(1000)
            for _ in 0..<5 {
                #expect(try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key).code == "otp_unavailable")
            }
            #expect(fixture.otp.calls("generate") == 10, "5 operations x 2 tries")
            let open = try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key)
            #expect(open.status == .serviceUnavailable && open.code == "otp_unavailable")
            #expect(fixture.otp.calls("generate") == 10, "the open circuit spares the failing manager")
            let metrics = try await client.send(.get, "/metrics", key: .some(nil)).text
            #expect(metricSample(metrics, #"token_broker_upstream_calls_total{upstream="otp",operation="generate",outcome="error"}"#) == 6)
            #expect(
                metricSample(metrics, #"token_broker_upstream_duration_seconds_count{upstream="otp",operation="generate"}"#) == 5,
                "the call the open circuit refused was never sent: counted, not timed")
        }
    }

    @Test("50 parallel wrong guesses on one challenge: exactly retryLimit reach the OTP Manager", arguments: Backend.allCases)
    func parallelGuesses(backend: Backend) async throws {
        let fixture = try await OTPFixture.make(backend)
        defer { fixture.stop() }
        try await fixture.harness.run(live: true) { client in
            _ = try await client.send(.post, "/v1/tenants", json: fixture.tenant("t1", retryLimit: 4))
            let key = try await client.apiKey(["otp"], tenants: ["t1"])
            let id = try #require(try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key).json["challengeId"]?.stringValue)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for guess in 0..<50 {
                    group.addTask { Int(try await client.post("/v1/tenants/t1/otp/\(id)/verify", ["otp": .string("w\(guess)")], key: key).status.code) }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 401 }.count == 4 && statuses.filter { $0 == 429 }.count == 46, "\(statuses.sorted())")
            #expect(fixture.otp.calls("verify") == 4)
            let stored = try await fixture.harness.broker.tenants.store.challenge(id)
            #expect(stored?.attemptsUsed == 4 && stored?.state == .exhausted)
        }
    }

    @Test("two broker instances on one PostgreSQL share a challenge: one sends, the other verifies and releases the tokens")
    func twoInstances() async throws {
        let fixture = try await OTPFixture.make(.postgres)
        defer { fixture.stop() }
        let second = try await RegistryHarness.make(
            .postgres, flags: ["keycloakUrl": fixture.keycloak.base, "otpSealingKey": OTPFixture.sealingKey], sharing: fixture.harness)
        try await fixture.harness.run { first in
            _ = try await first.send(.post, "/v1/tenants", json: fixture.tenant("t1"))
            try await second.broker.tenants.reloadAll()
            let id = try #require(try await first.post("/v1/tenants/t1/login", ["username": .string("agent"), "password": .string("agent-pass")]).json["challengeId"]?.stringValue)
            try await second.run { other in
                let wrong = try await other.post("/v1/tenants/t1/login/otp", ["challengeId": .string(id), "otp": .string("bad")])
                #expect(try wrong.json["attemptsRemaining"] == .int(2))
                let done = try await other.post("/v1/tenants/t1/login/otp", ["challengeId": .string(id), "otp": .string(fixture.otp.code(for: id)!)])
                #expect(done.status == .ok, "\(done.text)")
                #expect(try done.json["access_token"] != nil)
            }
            let replay = try await first.post("/v1/tenants/t1/login/otp", ["challengeId": .string(id), "otp": .string(fixture.otp.code(for: id)!)])
            #expect(replay.status == .notFound, "the first instance sees it used")
        }
    }

    @Test("one tenant's hanging OTP Manager does not delay another tenant's calls")
    func isolation() async throws {
        let fixture = try await OTPFixture.make(flags: ["otpDeadline": "3", "otpTenantConcurrency": "3"], tenants: ["t1", "t2"])
        defer { fixture.stop() }
        let slow = OTPManagerDouble()
        try await slow.start()
        defer { slow.stop() }
        slow.set(.hang(.seconds(10)))
        try await fixture.harness.run(live: true) { client in
            _ = try await client.send(.post, "/v1/tenants", json: fixture.tenant("t1", otpURL: slow.url))
            _ = try await client.send(.post, "/v1/tenants", json: fixture.tenant("t2"))
            let key = try await client.apiKey(["otp"])
            async let stuck: [Int] = withThrowingTaskGroup(of: Int.self) { group in
                // Five calls: three in flight (the per-tenant limit), two refused at once. The test client has 8 connections.
                for _ in 0..<5 {
                    group.addTask { Int(try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key).status.code) }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            // Until t1's three calls hang at its manager (the other two are refused at once).
            #expect(try await eventually { slow.calls("generate") >= 3 }, "t1's calls never reached its OTP Manager: \(slow.calls("generate"))")
            let started = ContinuousClock.now
            for _ in 0..<5 {
                #expect(try await client.post("/v1/tenants/t2/otp", ["recipient": .string("+15550002222")], key: key).status == .accepted)
            }
            let elapsed = ContinuousClock.now - started
            // Blocked behind t1 they would take at least t1's 3 s deadline; alone they take milliseconds.
            #expect(elapsed < .milliseconds(2500), "t2's five sends took \(elapsed) while t1's manager hangs")
            let t1 = try await stuck
            #expect(t1.filter { $0 == 504 }.count == 3 && t1.filter { $0 == 503 }.count == 2, "3 in flight time out; the rest are refused at once: \(t1.sorted())")
        }
    }

    @Test("2FA off: /login returns tokens directly and the OTP proxy answers 409; a user without the claim gets 422 recipient_missing")
    func disabledAndMissingClaim() async throws {
        let fixture = try await OTPFixture.make()
        defer { fixture.stop() }
        try await fixture.harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: fixture.tenant("t1", enabled: false))
            let direct = try await client.post("/v1/tenants/t1/login", ["username": .string("agent"), "password": .string("agent-pass")])
            #expect(direct.status == .ok)
            #expect(try direct.json["access_token"] != nil)
            let key = try await client.apiKey(["otp"], tenants: ["t1"])
            let off = try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key)
            #expect(off.status == .conflict && off.code == "two_factor_disabled")
            // Turning 2FA on applies to the next login at once.
            let patch = try await client.send(.patch, "/v1/tenants/t1", json: .object(["twoFAConfig": .object([
                "isEnabled": .bool(true), "channelType": .string("SMS"), "serviceIdentifier": .string("svc-1"), "otpExpiry": .int(60), "retryLimit": .int(2),
            ])]))
            #expect(patch.status == .ok, "\(patch.text)")
            let sessions = fixture.keycloak.activeSessions
            let missing = try await client.post("/v1/tenants/t1/login", ["username": .string("nophone"), "password": .string("pw")])
            #expect(missing.status == .unprocessableContent && missing.code == "recipient_missing")
            #expect(try missing.json["access_token"] == nil)
            #expect(fixture.keycloak.activeSessions == sessions, "the dropped tokens' session is ended at Keycloak")
            let wrong = try await client.post("/v1/tenants/t1/login", ["username": .string("agent"), "password": .string("nope")])
            #expect(wrong.status == .unauthorized && wrong.code == "invalid_credentials")
        }
    }

    @Test("policy changes apply to the next challenge; a running challenge keeps its rules")
    func policyChange() async throws {
        let fixture = try await OTPFixture.make()
        defer { fixture.stop() }
        try await fixture.harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: fixture.tenant("t1", retryLimit: 5, expiry: 300))
            let key = try await client.apiKey(["otp"], tenants: ["t1"])
            let running = try #require(try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key).json["challengeId"]?.stringValue)
            let other = OTPManagerDouble()
            try await other.start()
            defer { other.stop() }
            #expect(try await client.send(.patch, "/v1/tenants/t1", json: .object(["twoFAConfig": .object([
                "isEnabled": .bool(true), "channelType": .string("Email"), "serviceIdentifier": .string("mail-1"), "otpExpiry": .int(60), "retryLimit": .int(1),
            ])])).status == .ok)
            let wrong = try await client.post("/v1/tenants/t1/otp/\(running)/verify", ["otp": .string("bad")], key: key)
            #expect(try wrong.json["attemptsRemaining"] == .int(4), "the running challenge keeps retryLimit 5")
            let next = try await client.post("/v1/tenants/t1/otp", ["recipient": .string("jane@example.com")], key: key)
            #expect(try next.json["channel"] == .string("Email") && (try next.json["attemptsRemaining"]) == .int(1) && (try next.json["expiresIn"]) == .int(60))
            let sms = try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key)
            #expect(sms.status == .unprocessableContent, "an Email tenant needs an email address")
        }
    }

    @Test("bad input on every OTP endpoint: malformed, missing, oversized, hostile; callers without the otp scope or of other tenants")
    func badInput() async throws {
        let fixture = try await OTPFixture.make()
        defer { fixture.stop() }
        try await fixture.harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: fixture.tenant("t1"))
            _ = try await client.send(.post, "/v1/tenants", json: fixture.tenant("t2"))
            let key = try await client.apiKey(["otp"], tenants: ["t1"])
            let minter = try await client.apiKey(["token:mint"], tenants: ["t1"])
            let id = try #require(try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: key).json["challengeId"]?.stringValue)
            let endpoints: [(String, String?)] = [
                ("/v1/tenants/t1/otp", key), ("/v1/tenants/t1/otp/\(id)/verify", key), ("/v1/tenants/t1/login", nil),
                ("/v1/tenants/t1/login/otp", nil), ("/v1/tenants/t1/login/otp/resend", nil),
            ]
            for (path, credential) in endpoints {
                #expect(try await client.send(.post, path, raw: Array("{\"otp\":".utf8), key: .some(credential)).status == .badRequest, "\(path)")
                #expect(try await client.send(.post, path, raw: Array("[1]".utf8), key: .some(credential)).status == .unprocessableContent, "\(path)")
                #expect(try await client.send(.post, path, json: .object([:]), key: .some(credential)).status == .unprocessableContent, "\(path)")
                let huge = JSONValue.object(["otp": .string(String(repeating: "1", count: 70_000))])
                #expect(try await client.send(.post, path, json: huge, key: .some(credential)).status == .contentTooLarge, "\(path)")
            }
            let hostileRecipients = ["+1", "12345678901234567", "+1555 123", "<script>@x.com", "a@b", "jane@example.com", "'; DROP TABLE x;--"]
            for recipient in hostileRecipients {
                let reply = try await client.post("/v1/tenants/t1/otp", ["recipient": .string(recipient)], key: key)
                #expect(reply.status == .unprocessableContent, "\(recipient)")
            }
            #expect(try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111"), "purpose": .string("login")], key: key).status == .unprocessableContent)
            #expect(try await client.post("/v1/tenants/t1/otp/\(id)/verify", ["otp": .string("12 34")], key: key).status == .unprocessableContent)
            #expect(try await client.post("/v1/tenants/t1/otp/\(id)/verify", ["otp": .string("../../x")], key: key).status == .unprocessableContent)
            #expect(try await client.post("/v1/tenants/t1/otp/%2E%2E/verify", ["otp": .string("1234")], key: key).status == .notFound)
            #expect(try await client.post("/v1/tenants/t1/otp/\(String(repeating: "A", count: 500))/verify", ["otp": .string("1234")], key: key).status == .notFound)
            // A component challenge cannot be used as a login challenge, nor from another tenant.
            #expect(try await client.post("/v1/tenants/t1/login/otp", ["challengeId": .string(id), "otp": .string("1234")]).code == "challenge_not_found")
            let otherTenant = try await client.post("/v1/tenants/t2/otp/\(id)/verify", ["otp": .string("1234")], key: .some(try await client.apiKey(["otp"], tenants: ["t2"])))
            #expect(otherTenant.status == .notFound)
            #expect(try await client.post("/v1/tenants/t2/otp", ["recipient": .string("+15550001111")], key: key).status == .notFound, "invisible tenant")
            #expect(try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: minter).status == .forbidden)
            // A component's Keycloak service account with cx-token-minter may use the OTP proxy (the contract's component row).
            let now = Int64(Date().timeIntervalSince1970)
            let serviceAccount = try fixture.keycloak.token("master", claims: [
                "iss": .string(fixture.keycloak.issuer("master")), "sub": .string("sa-routing"), "typ": .string("Bearer"), "azp": .string("routing"),
                "exp": .int(now + 300), "iat": .int(now), "realm_access": .object(["roles": .array([.string("cx-token-minter")])]),
            ])
            #expect(try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: serviceAccount).status == .accepted)
            #expect(try await client.post("/v1/tenants/t1/otp", ["recipient": .string("+15550001111")], key: .some(nil)).status == .unauthorized)
            #expect(try await client.post("/v1/tenants/nope/login", ["username": .string("a"), "password": .string("b")]).status == .notFound)
            // A tenant whose realm does not exist at Keycloak: discovery answers 404, the login 503 (a configuration fault, logged).
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("ghost", twoFA: false) { $0["keycloak"] = .object(["realm": .string("ghost"), "clientId": .string("c"), "clientSecret": .string("s")]) })
            let ghost = try await client.post("/v1/tenants/ghost/login", ["username": .string("a"), "password": .string("b")])
            #expect(ghost.status == .serviceUnavailable && ghost.code == "upstream_unavailable", "\(ghost.text)")
            _ = try await client.send(.post, "/v1/tenants/t1/suspend")
            let suspended = try await client.post("/v1/tenants/t1/login", ["username": .string("agent"), "password": .string("agent-pass")])
            #expect(suspended.status == .forbidden && suspended.code == "tenant_inactive")
        }
    }
}

@Suite("OTP challenge purge") struct OTPPurgeTests {
    @Test("expired challenges lose their sealed tokens and recipient at once and are deleted an hour later", arguments: Backend.allCases)
    func purge(backend: Backend) async throws {
        let clock = TestClock(Date())
        let fixture = try await OTPFixture.make(backend, clock: clock)
        defer { fixture.stop() }
        try await fixture.harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: fixture.tenant("t1", expiry: 60))
            let id = try #require(try await client.post("/v1/tenants/t1/login", ["username": .string("agent"), "password": .string("agent-pass")]).json["challengeId"]?.stringValue)
            let store = fixture.harness.broker.tenants.store
            #expect(try await store.challenge(id)?.sealedTokens != nil)
            #expect(try await store.purgeChallenges(now: clock.now) == 0)
            #expect(try await store.challenge(id)?.sealedTokens != nil, "a live challenge keeps its tokens")
            clock.set(clock.now.addingTimeInterval(61))
            #expect(try await store.purgeChallenges(now: clock.now) == 0)
            let expired = try await store.challenge(id)
            #expect(expired?.sealedTokens == nil && expired?.sealedRecipient == nil, "wiped when the challenge dies")
            #expect(try await client.post("/v1/tenants/t1/login/otp", ["challengeId": .string(id), "otp": .string("123456")]).status == .gone)
            clock.set(clock.now.addingTimeInterval(3600))
            #expect(try await store.purgeChallenges(now: clock.now) == 1)
            #expect(try await store.challenge(id) == nil)
        }
    }
}
