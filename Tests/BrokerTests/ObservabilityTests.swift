import Foundation
import JOSE
import StoreTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The value of one series in a Prometheus text exposition (`name{labels}` exactly as rendered), nil if absent.
func metricSample(_ exposition: String, _ series: String) -> Double? {
    for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}

@Suite("observability: upstream latency, bounded tenant labels, the tenant in the access log", .serialized) struct ObservabilityTests {
    @Test("Keycloak and OTP Manager calls are timed by upstream and operation, failures too; a throttled login is counted but not timed")
    func upstreamDurations() async throws {
        let fixture = try await OTPFixture.make(flags: ["loginMaxFailuresPerUser": "1"])
        defer { fixture.stop() }
        try await fixture.harness.run { client in
            #expect(try await client.send(.post, "/v1/tenants", json: fixture.tenant("t1")).status == .created)
            let login = try await client.post("/v1/tenants/t1/login", ["username": .string("agent"), "password": .string("agent-pass")])
            #expect(login.status == .accepted, "\(login.text)")
            let id = try #require(try login.json["challengeId"]?.stringValue)
            let code = try #require(fixture.otp.code(for: id))
            #expect(try await client.post("/v1/tenants/t1/login/otp", ["challengeId": .string(id), "otp": .string(code)]).status == .ok)
            let wrong = try await client.post("/v1/tenants/t1/login", ["username": .string("agent"), "password": .string("nope")])
            #expect(wrong.status == .unauthorized)
            let throttled = try await client.post("/v1/tenants/t1/login", ["username": .string("agent"), "password": .string("agent-pass")])
            #expect(throttled.status == .tooManyRequests, "\(throttled.text)")

            let metrics = try await client.send(.get, "/metrics", key: .some(nil)).text
            let name = "token_broker_upstream_duration_seconds"
            #expect(metrics.contains(#"\#(name)_bucket{upstream="keycloak",operation="password",le="#), "\(metrics)")
            #expect(metrics.contains(#"\#(name)_bucket{upstream="otp",operation="generate",le="#))
            #expect(metrics.contains(#"\#(name)_bucket{upstream="keycloak",operation="password",le="30.0"} 2"#), "buckets reach 30 s")
            #expect(metricSample(metrics, #"\#(name)_count{upstream="keycloak",operation="password"}"#) == 2, "the success and the refusal; the throttled login never reached Keycloak")
            #expect(metricSample(metrics, #"token_broker_upstream_calls_total{upstream="keycloak",operation="password",outcome="throttled"}"#) == 1)
            #expect(metricSample(metrics, #"\#(name)_count{upstream="otp",operation="generate"}"#) == 1)
            #expect(metricSample(metrics, #"\#(name)_count{upstream="otp",operation="verify"}"#) == 1)
            #expect((metricSample(metrics, #"\#(name)_count{upstream="keycloak",operation="discovery"}"#) ?? 0) >= 1, "the tenant realm's discovery fetch")
            #expect((metricSample(metrics, #"\#(name)_sum{upstream="otp",operation="generate"}"#) ?? 0) > 0)
            #expect(!metrics.contains(#"\#(name)_count{upstream="keycloak",operation="password",tenant"#), "no tenant label on upstream metrics")
            #expect(!metrics.split(separator: "\n").contains { $0.hasPrefix(name) && ($0.contains("t1") || $0.contains("agent")) }, "no tenant or user in upstream series")
        }
    }

    @Test("tokens_minted_total labels only the tenants --metrics-tenants lists; every other tenant is 'other' and its id appears nowhere")
    func boundedTenantLabels() async throws {
        let harness = try await RegistryHarness.make(.sqlite, flags: ["metricsTenants": "tenant1"])
        try await harness.run { client in
            for id in ["tenant1", "hiddenco"] {
                #expect(try await client.send(.post, "/v1/tenants", json: tenantBody(id)).status == .created)
            }
            #expect(try await client.send(.post, "/v1/tenants/tenant1/token").status == .ok)
            for _ in 0..<2 { #expect(try await client.send(.post, "/v1/tenants/hiddenco/token").status == .ok) }
            let metrics = try await client.send(.get, "/metrics", key: .some(nil)).text
            #expect(metricSample(metrics, #"token_broker_tokens_minted_total{endpoint="v1",tenant="tenant1"}"#) == 1, "\(metrics)")
            #expect(metricSample(metrics, #"token_broker_tokens_minted_total{endpoint="v1",tenant="other"}"#) == 2)
            #expect(!metrics.contains("hiddenco"), "an unlisted tenant's id never reaches /metrics")
            #expect(metrics.split(separator: "\n").filter { $0.hasPrefix("token_broker_tokens_minted_total{") }.count == 2)
        }
    }

    @Test("with the default, every tenant is counted under one tenant=\"other\" series")
    func defaultIsOther() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        #expect(harness.broker.configuration.metricsTenants.isEmpty)
        #expect(harness.broker.runtime.metricsTenantLabel("tenant1") == "other")
        try await harness.run { client in
            for id in ["tenant1", "tenant2"] {
                #expect(try await client.send(.post, "/v1/tenants", json: tenantBody(id)).status == .created)
                #expect(try await client.send(.post, "/v1/tenants/\(id)/token").status == .ok)
            }
            let metrics = try await client.send(.get, "/metrics", key: .some(nil)).text
            #expect(metrics.split(separator: "\n").filter { $0.hasPrefix("token_broker_tokens_minted_total{") } == [#"token_broker_tokens_minted_total{endpoint="v1",tenant="other"} 2"#])
        }
    }

    @Test("the JSON access log line names the tenant of a tenant route and of a verified token, and never holds the token or the API key")
    func tenantInAccessLog() async throws {
        let scratch = ScratchDirectory()
        let database = "sqlite:\(scratch.path)/db.sqlite"
        let key = try await bootstrapAdminKey(database: database, directory: scratch.path)
        let broker = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--database", database, "--log-level", "debug"])
        defer { broker.signal(SIGKILL) }
        #expect(try await HTTP.send(.POST, broker.baseURL + "/v1/tenants", key: key, json: tenantBody("tenant1")).status == 201)
        let mint = try await HTTP.send(.POST, broker.baseURL + "/v1/tenants/tenant1/token", key: key)
        #expect(mint.status == 200)
        let token = try #require(try JSONParser().parseObject(mint.body)["access_token"]?.stringValue)
        let verify = try await HTTP.get(broker.baseURL + "/v1/verify", headers: [("Authorization", "Bearer \(token)")])
        #expect(verify.status == 200)
        let hostile = try await HTTP.send(.GET, broker.baseURL + "/v1/tenants/Not_A_Tenant", key: key)
        let health = try await HTTP.get(broker.baseURL + "/healthz")
        let ids = [mint, verify, hostile, health].map { $0.headers.first(name: "X-Request-Id") ?? "" }

        // The lines arrive through a pipe: wait for the last one (with a deadline), not for a time.
        var lines = [String: [String: JSONValue]]()
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            for line in broker.log.split(separator: "\n") {
                guard let object = try? JSONParser().parseObject(Array(line.utf8)), object["message"] == .string("request"),
                    let id = object["requestId"]?.stringValue
                else { continue }
                lines[id] = object
            }
            if ids.allSatisfy({ lines[$0] != nil }) { break }
            try await Task.sleep(for: .milliseconds(20))
        } while ContinuousClock.now < deadline
        let (minted, verified, refused, healthz) = (lines[ids[0]], lines[ids[1]], lines[ids[2]], lines[ids[3]])
        #expect(minted?["tenant"] == .string("tenant1"), "\(String(describing: minted))")
        #expect(minted?["route"] == .string("/v1/tenants/{tenantId}/token"))
        #expect(verified?["tenant"] == .string("tenant1"), "forward-auth reports the verified token's tenant: \(String(describing: verified))")
        #expect(refused != nil && refused?["tenant"] == nil, "a path segment that is no tenant id is not a tenant")
        #expect(healthz != nil && healthz?["tenant"] == nil)
        let secret = String(key.split(separator: "_", maxSplits: 2).last ?? "")
        #expect(secret.count >= 16)
        for line in broker.log.split(separator: "\n") {
            #expect(!line.contains(token), "a log line holds the token: \(line)")
            #expect(!line.contains(secret), "a log line holds the API key's secret: \(line)")
        }
    }
}
