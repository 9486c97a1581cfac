import Foundation
import HTTPTypes
import JOSE
import StoreTestSupport
import TenantRegistry
import Testing

/// A tenant's mint limit on this instance; the test client sends through the router.
@Suite("noisy neighbours: per-tenant limits on the tenant document, and the mint limit")
struct RateLimitTests {
    static let policy = HTTPField.Name("RateLimit-Policy")!
    static let state = HTTPField.Name("RateLimit")!

    @Test("limits on the document: set on create, shown with nulls, PATCHed by system admins only, merged field by field, reset by null", arguments: Backend.allCases)
    func document(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            let created = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1") { $0["limits"] = .object(["mintPerSecond": .int(5)]) })
            #expect(created.status == .created, "\(created.text)")
            #expect(try created.json["limits"] == .object(["mintPerSecond": .int(5), "otpPerMinute": .null, "loginPerMinute": .null]))
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant2"))
            let plain = try await client.send(.get, "/v1/tenants/tenant2")
            #expect(try plain.json["limits"] == .object(["mintPerSecond": .null, "otpPerMinute": .null, "loginPerMinute": .null]))

            let patched = try await client.send(.patch, "/v1/tenants/tenant1", json: .object(["limits": .object(["otpPerMinute": .int(30)])]))
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(try patched.json["limits"] == .object(["mintPerSecond": .int(5), "otpPerMinute": .int(30), "loginPerMinute": .null]), "fields not sent are kept")
            let back = try await client.send(.patch, "/v1/tenants/tenant1", json: .object(["limits": .object(["mintPerSecond": .null])]))
            #expect(try back.json["limits"] == .object(["mintPerSecond": .null, "otpPerMinute": .int(30), "loginPerMinute": .null]))
            let reset = try await client.send(.patch, "/v1/tenants/tenant1", json: .object(["limits": .null]))
            #expect(try reset.json["limits"] == .object(["mintPerSecond": .null, "otpPerMinute": .null, "loginPerMinute": .null]))

            // A tenant's own administrator manages its tenant, not its limits.
            let tenantAdmin = try await client.apiKey(["tenants:read", "tenants:write"], tenants: ["tenant1"])
            let refused = try await client.send(.patch, "/v1/tenants/tenant1", json: .object(["limits": .object(["mintPerSecond": .int(100_000)])]), key: tenantAdmin)
            #expect(refused.status == .unprocessableContent && refused.code == "field_not_updatable", "\(refused.text)")
            #expect(try refused.errorFields == ["limits"])
            #expect(try await client.send(.get, "/v1/tenants/tenant1").json["limits"]?.objectValue?["mintPerSecond"] == .null, "nothing stored")
            let audit = try await client.send(.get, "/v1/audit?tenantId=tenant1")
            #expect(try (audit.json["items"]?.arrayValue?.count ?? 0) >= 4, "each limits change is an audited update")
        }
    }

    @Test(
        "bad limits are 422 naming every bad field, on create and PATCH, and nothing is stored",
        arguments: [
            (JSONValue.object(["mintPerSecond": .int(0)]), ["limits.mintPerSecond"]),
            (.object(["mintPerSecond": .int(-1)]), ["limits.mintPerSecond"]),
            (.object(["mintPerSecond": .double(1.5)]), ["limits.mintPerSecond"]),
            (.object(["mintPerSecond": .string("5")]), ["limits.mintPerSecond"]),
            (.object(["mintPerSecond": .bool(true)]), ["limits.mintPerSecond"]),
            (.object(["mintPerSecond": .int(1_000_001)]), ["limits.mintPerSecond"]),
            (.object(["otpPerMinute": .int(Int64.max)]), ["limits.otpPerMinute"]),
            (.object(["loginPerMinute": .array([.int(1)])]), ["limits.loginPerMinute"]),
            (.object(["otpPerMinute": .int(0), "loginPerMinute": .int(-5)]), ["limits.loginPerMinute", "limits.otpPerMinute"]),
            (.object(["mintPerSecondd": .int(5)]), ["limits.mintPerSecondd"]),
            (.array([]), ["limits"]),
            (.string("unlimited"), ["limits"]),
            (.int(5), ["limits"]),
        ])
    func badLimits(limits: JSONValue, fields: [String]) async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            let create = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1") { $0["limits"] = limits })
            #expect(create.status == .unprocessableContent && create.code == "validation_failed", "\(create.text)")
            #expect(try create.errorFields == fields)
            #expect(try await client.send(.get, "/v1/tenants/tenant1").status == .notFound)
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1"))
            let patch = try await client.send(.patch, "/v1/tenants/tenant1", json: .object(["limits": limits]))
            #expect(patch.status == .unprocessableContent && patch.code == "validation_failed", "\(patch.text)")
            #expect(try patch.errorFields == fields)
            #expect(try await client.send(.get, "/v1/tenants/tenant1").headers[.eTag] == "\"v1\"", "nothing stored")
        }
    }

    @Test("past its mint limit a tenant gets 429 rate_limited (REST) and slow_down (OAuth) with Retry-After and RateLimit headers; the other tenant is not limited; a PATCH applies at once", arguments: Backend.allCases)
    func mintLimit(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend, flags: ["tenantMintRate": "1000"])
        try await harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("noisy") { $0["limits"] = .object(["mintPerSecond": .int(3)]) })
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("quiet"))
            let key = try await client.apiKey(["token:mint"], tenants: ["noisy", "quiet"])
            let start = ContinuousClock.now
            var replies: [RegistryHarness.Client.Reply] = []
            for _ in 0..<12 { replies.append(try await client.send(.post, "/v1/tenants/noisy/token", key: key)) }
            let elapsed = ContinuousClock.now - start
            let allowed = replies.filter { $0.status == .ok }
            let refused = replies.filter { $0.status == .tooManyRequests }
            // A burst of 3, refilled at 3 per second while the loop ran.
            let most = 3 + Int((Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) * 3) + 1
            #expect(allowed.count >= 3 && allowed.count <= most, "\(allowed.count) of 12 allowed in \(elapsed)")
            #expect(allowed.count + refused.count == 12, "\(replies.map(\.status))")
            #expect(allowed.first?.headers[Self.policy] == "\"mint\";q=3;w=1")
            #expect(allowed.first?.headers[Self.state] == "\"mint\";r=2;t=1")
            let first = try #require(refused.first)
            #expect(first.code == "rate_limited", "\(first.text)")
            #expect(try first.json["type"] == .string("urn:token-broker:problem:rate_limited"))
            #expect(first.headers[.contentType] == "application/problem+json")
            #expect(first.headers[.retryAfter] == "1")
            #expect(first.headers[Self.policy] == "\"mint\";q=3;w=1")
            #expect(first.headers[Self.state]?.hasPrefix("\"mint\";r=0;t=") == true)
            #expect(!first.text.contains("eyJ"), "no token in a refusal")

            let (id, secret) = clientCredentials(key)
            // The bucket refills at 3 per second while this runs (slowly, on a loaded machine): flood until refused.
            var oauth = try await client.form("/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "noisy")], basic: (id, secret))
            for _ in 0..<50 where oauth.status == .ok {
                #expect(oauth.headers[Self.policy] == "\"mint\";q=3;w=1")
                oauth = try await client.form("/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "noisy")], basic: (id, secret))
            }
            #expect(oauth.status == .tooManyRequests, "\(oauth.text)")
            #expect(try oauth.json["error"] == .string("slow_down"))
            #expect(oauth.headers[.retryAfter] != nil && oauth.headers[Self.policy] == "\"mint\";q=3;w=1")
            #expect(oauth.headers[.cacheControl] == "no-store")

            // The neighbour is not limited by the noisy tenant, and sees its own (default) limit.
            for _ in 0..<20 {
                let quiet = try await client.send(.post, "/v1/tenants/quiet/token", key: key)
                #expect(quiet.status == .ok)
                #expect(quiet.headers[Self.policy] == "\"mint\";q=1000;w=1")
            }
            let quietOAuth = try await client.form("/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "quiet")], basic: (id, secret))
            #expect(quietOAuth.status == .ok && quietOAuth.headers[Self.policy] == "\"mint\";q=1000;w=1")

            // A new limit applies to the next mint.
            #expect(try await client.send(.patch, "/v1/tenants/noisy", json: .object(["limits": .object(["mintPerSecond": .int(100)])])).status == .ok)
            let raised = try await client.send(.post, "/v1/tenants/noisy/token", key: key)
            #expect(raised.status == .ok, "\(raised.text)")
            #expect(raised.headers[Self.policy] == "\"mint\";q=100;w=1")

            let metrics = try await client.send(.get, "/metrics", key: .some(nil)).text
            #expect(metrics.contains(#"token_broker_rate_limited_total{route="/v1/tenants/{tenantId}/token",limit="mint",tenant="other"}"#), "\(metrics.prefix(0))")
            #expect(metrics.contains(#"token_broker_rate_limited_total{route="/oauth2/token",limit="mint",tenant="other"}"#))
        }
    }

    @Test("--tenant-mint-rate 0 means no limit and no RateLimit headers; a tenant's own limit still applies")
    func noDefault() async throws {
        let harness = try await RegistryHarness.make(.sqlite, flags: ["tenantMintRate": "0"])
        try await harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("free"))
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("capped") { $0["limits"] = .object(["mintPerSecond": .int(1)]) })
            for _ in 0..<30 {
                let reply = try await client.send(.post, "/v1/tenants/free/token")
                #expect(reply.status == .ok && reply.headers[Self.policy] == nil && reply.headers[Self.state] == nil)
            }
            #expect(try await client.send(.post, "/v1/tenants/capped/token").status == .ok)
            #expect(try await client.send(.post, "/v1/tenants/capped/token").status == .tooManyRequests)
        }
    }
}

@Suite("noisy neighbours: a tenant's OTP sends and logins per minute, shared by every instance on one store", .serialized)
struct SharedRateLimitTests {
    @Test("otpPerMinute and loginPerMinute hold for two instances on one PostgreSQL together (and on SQLite), with RateLimit-Policy naming the limit; the neighbour is not limited", arguments: Backend.allCases)
    func sharedLimits(backend: Backend) async throws {
        let fixture = try await OTPFixture.make(backend, tenants: ["t1", "t2"])
        defer { fixture.stop() }
        // On PostgreSQL a second broker on the same database; on SQLite (one instance per file) the same one twice.
        let second =
            backend == .postgres
            ? try await RegistryHarness.make(
                .postgres, clock: fixture.harness.clock, flags: ["keycloakUrl": fixture.keycloak.base, "otpSealingKey": OTPFixture.sealingKey],
                sharing: fixture.harness)
            : nil
        try await fixture.harness.run { first in
            var body = fixture.tenant("t1").objectValue!
            body["limits"] = .object(["otpPerMinute": .int(3), "loginPerMinute": .int(5)])
            #expect(try await first.send(.post, "/v1/tenants", json: .object(body)).status == .created)
            _ = try await first.send(.post, "/v1/tenants", json: fixture.tenant("t2"))
            if let second {
                try await second.broker.tenants.reloadAll()
                try await second.run { other in try await Self.scenario(fixture, first, other) }
            } else {
                try await Self.scenario(fixture, first, first)
            }
        }
    }

    static func scenario(_ fixture: OTPFixture, _ first: RegistryHarness.Client, _ other: RegistryHarness.Client) async throws {
        let password: [String: JSONValue] = ["username": .string("agent"), "password": .string("agent-pass")]
        // Each login sends one code: the OTP limit (3) is reached first, by both instances together.
        var statuses: [HTTPResponse.Status] = []
        for client in [first, other, first] { statuses.append(try await client.post("/v1/tenants/t1/login", password).status) }
        #expect(statuses == [.accepted, .accepted, .accepted])
        let otpRefused = try await other.post("/v1/tenants/t1/login", password)
        #expect(otpRefused.status == .tooManyRequests && otpRefused.code == "rate_limited", "\(otpRefused.text)")
        #expect(otpRefused.headers[RateLimitTests.policy] == "\"otp\";q=3;w=60")
        #expect(Int(otpRefused.headers[.retryAfter] ?? "") ?? 0 >= 1)
        #expect(try await first.post("/v1/tenants/t1/login", password).headers[RateLimitTests.policy] == "\"otp\";q=3;w=60")
        // The sixth login of the minute is refused before Keycloak is asked.
        let loginRefused = try await other.post("/v1/tenants/t1/login", password)
        #expect(loginRefused.status == .tooManyRequests && loginRefused.code == "rate_limited", "\(loginRefused.text)")
        #expect(loginRefused.headers[RateLimitTests.policy] == "\"login\";q=5;w=60")
        // The neighbour has its own counters.
        #expect(try await other.post("/v1/tenants/t2/login", password).status == .accepted)
        #expect(try await first.post("/v1/tenants/t2/login", password).status == .accepted)
        // The next minute is a new window.
        fixture.harness.clock.set(fixture.harness.clock.now.addingTimeInterval(60))
        #expect(try await first.post("/v1/tenants/t1/login", password).status == .accepted)
    }
}

extension SharedRateLimitTests {
    @Test("two instances on one PostgreSQL share the failed-login throttle: after 5 failures spread over both, both refuse, without asking Keycloak")
    func sharedLoginThrottle() async throws {
        let fixture = try await OTPFixture.make(.postgres, flags: ["loginMaxFailuresPerUser": "5", "loginMaxFailuresPerIp": "0"])
        defer { fixture.stop() }
        let second = try await RegistryHarness.make(
            .postgres, clock: fixture.harness.clock,
            flags: ["keycloakUrl": fixture.keycloak.base, "otpSealingKey": OTPFixture.sealingKey, "loginMaxFailuresPerUser": "5", "loginMaxFailuresPerIp": "0"],
            sharing: fixture.harness)
        try await fixture.harness.run { first in
            _ = try await first.send(.post, "/v1/tenants", json: fixture.tenant("t1", enabled: false))
            try await second.broker.tenants.reloadAll()
            try await second.run { other in
                let wrong: [String: JSONValue] = ["username": .string("agent"), "password": .string("wrong")]
                let right: [String: JSONValue] = ["username": .string("Agent"), "password": .string("agent-pass")]
                for client in [first, other, first, other, first] {
                    #expect(try await client.post("/v1/tenants/t1/login", wrong).status == .unauthorized)
                }
                let calls = fixture.keycloak.count("token")
                for client in [other, first] {
                    let refused = try await client.post("/v1/tenants/t1/login", right)
                    #expect(refused.status == .tooManyRequests && refused.code == "too_many_attempts", "\(refused.text)")
                    #expect((1...60).contains(Int(refused.headers[.retryAfter] ?? "") ?? 0))
                }
                #expect(fixture.keycloak.count("token") == calls, "a throttled login never reaches Keycloak")
                fixture.harness.clock.set(fixture.harness.clock.now.addingTimeInterval(61))
                #expect(try await other.post("/v1/tenants/t1/login", right).status == .ok, "after the window")
            }
        }
    }
}
