import Foundation
import Prometheus
import Synchronization

/// The broker's Prometheus registry and the metrics every part records into.
/// Owned by the application (not the global MetricsSystem), so tests can run several brokers in one process.
public final class BrokerMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry

    static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5),
    ]

    /// The request buckets, continued to 30 s: a Keycloak call may take up to `--keycloak-timeout` (default 10 s),
    /// so slow upstreams stay visible instead of all landing in `+Inf`.
    static let upstreamDurationBuckets: [Duration] = durationBuckets + [.seconds(10), .seconds(30)]

    /// A fresh registry with the broker's fixed metrics registered.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// Metric handles already made, by their labels. `makeCounter` builds and validates the metric's name and
    /// help text and takes the registry's lock on every call; the hot path (every request, every verification)
    /// looks its handle up here instead. Label values come from small fixed sets (route patterns, methods,
    /// status codes, results, operations, the tenants `--metrics-tenants` lists), so these maps stay small.
    private let requestHandles = HandleCache<RequestKey, RequestHandles>()
    private let verificationHandles = HandleCache<String, Counter>()
    private let mintHandles = HandleCache<MintKey, Counter>()
    /// Refused requests' log summary, shared by the router's middleware and the fast paths.
    let refusals = RefusalLog()
    private let limitedHandles = HandleCache<LimitedKey, Counter>()
    private let upstreamCallHandles = HandleCache<UpstreamCallKey, Counter>()
    private let upstreamDurationHandles = HandleCache<UpstreamOperation, DurationHistogram>()

    struct RequestKey: Hashable, Sendable {
        let route: String
        let method: String
        let status: Int
    }

    struct LimitedKey: Hashable, Sendable {
        let route: String
        let limit: String
        let tenant: String
    }

    struct MintKey: Hashable, Sendable {
        let endpoint: String
        let tenant: String
    }

    /// One kind of upstream call: `keycloak`/`password`, `otp`/`verify`, ...
    struct UpstreamOperation: Hashable, Sendable {
        let upstream: String
        let operation: String
    }

    struct UpstreamCallKey: Hashable, Sendable {
        let operation: UpstreamOperation
        let outcome: String
    }

    /// A struct, not a tuple: a tuple as a generic argument costs a runtime metadata lookup on every access.
    struct RequestHandles: Sendable {
        let requests: Counter
        let duration: DurationHistogram

        func record(_ duration: Duration) {
            requests.increment()
            self.duration.recordNanoseconds(duration.nanoseconds)
        }
    }

    /// Records one HTTP request under its route pattern (never the raw path: that would explode cardinality).
    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        requestHandles(route: route, method: method, status: status).record(duration)
    }

    func requestHandles(route: String, method: String, status: Int) -> RequestHandles {
        requestHandles.handle(for: RequestKey(route: route, method: method, status: status)) {
            RequestHandles(
                requests: registry.makeCounter(descriptor: .init(namespace: "token_broker", metricName: "http_requests", unitName: "total", helpText: "HTTP requests answered, by route pattern, method and status code"), labels: [("route", route), ("method", method), ("code", String(status))]),
                duration: registry.makeDurationHistogram(descriptor: .init(namespace: "token_broker", metricName: "http_request_duration", unitName: "seconds", helpText: "HTTP request latency, by route pattern and method"), labels: [("route", route), ("method", method)], buckets: Self.durationBuckets))
        }
    }

    /// Records one verification outcome (a small fixed set of results: no per-token or per-tenant labels).
    func recordVerification(_ result: String) {
        verificationCounter(result).increment()
    }

    func verificationCounter(_ result: String) -> Counter {
        verificationHandles.handle(for: result) {
            registry.makeCounter(
                descriptor: .init(namespace: "token_broker", metricName: "verifications", unitName: "total", helpText: "Token verifications, by result"),
                labels: [("result", result)])
        }
    }

    /// Counts one minted token, by endpoint and tenant label. `tenant` is the tenant id only for the tenants
    /// `--metrics-tenants` lists and `other` for the rest (see `RuntimeSettings.metricsTenantLabel`): 100k
    /// tenants must not become 100k series.
    func recordMint(endpoint: String, tenant: String) {
        mintHandles.handle(for: MintKey(endpoint: endpoint, tenant: tenant)) {
            registry.makeCounter(
                descriptor: .init(namespace: "token_broker", metricName: "tokens_minted", unitName: "total", helpText: "cx-tenant tokens minted, by endpoint and tenant (listed tenants by id, the rest as other)"),
                labels: [("endpoint", endpoint), ("tenant", tenant)])
        }.increment()
    }

    /// Counts one request refused by a tenant's rate limit (`limit`: mint, otp, login), by route and tenant label
    /// (bounded as for `tokens_minted`).
    func recordRateLimited(route: String, limit: String, tenant: String) {
        limitedHandles.handle(for: LimitedKey(route: route, limit: limit, tenant: tenant)) {
            registry.makeCounter(
                descriptor: .init(namespace: "token_broker", metricName: "rate_limited", unitName: "total", helpText: "Requests refused by a tenant's rate limit, by route, limit and tenant (listed tenants by id, the rest as other)"),
                labels: [("route", route), ("limit", limit), ("tenant", tenant)])
        }.increment()
    }

    /// Counts one call to an upstream (Keycloak, an OTP Manager) by operation and outcome, and records how long
    /// it took. `duration` is nil for a call that was never sent (throttled, or refused by an open circuit): it
    /// counts, but adds nothing to the latency histogram. No tenant or user labels.
    func recordUpstream(_ upstream: String, operation: String, outcome: String, duration: Duration?) {
        let kind = UpstreamOperation(upstream: upstream, operation: operation)
        upstreamCallHandles.handle(for: UpstreamCallKey(operation: kind, outcome: outcome)) {
            registry.makeCounter(
                descriptor: .init(namespace: "token_broker", metricName: "upstream_calls", unitName: "total", helpText: "Calls to Keycloak and OTP Managers, by upstream, operation and outcome"),
                labels: [("upstream", upstream), ("operation", operation), ("outcome", outcome)])
        }.increment()
        if let duration { recordUpstreamDuration(kind, duration: duration) }
    }

    /// Records how long one upstream call took, success or failure alike (also for calls counted elsewhere,
    /// such as JWKS fetches).
    func recordUpstreamDuration(_ upstream: String, operation: String, duration: Duration) {
        recordUpstreamDuration(UpstreamOperation(upstream: upstream, operation: operation), duration: duration)
    }

    private func recordUpstreamDuration(_ kind: UpstreamOperation, duration: Duration) {
        upstreamDurationHandles.handle(for: kind) {
            registry.makeDurationHistogram(
                descriptor: .init(namespace: "token_broker", metricName: "upstream_duration", unitName: "seconds", helpText: "Latency of calls to Keycloak and OTP Managers, by upstream and operation"),
                labels: [("upstream", kind.upstream), ("operation", kind.operation)], buckets: Self.upstreamDurationBuckets)
        }.recordNanoseconds(duration.nanoseconds)
    }

    private let jwksReported = Mutex<(hits: Int, misses: Int, fetches: Int, failedFetches: Int)>((0, 0, 0, 0))

    /// Brings the JWKS cache counters up to date (called on scrape: the hot path only bumps atomics).
    func updateJWKS(counters: (hits: Int, misses: Int, fetches: Int, failedFetches: Int), stale: Int) {
        let delta = jwksReported.withLock { reported in
            defer { reported = counters }
            return (counters.hits - reported.hits, counters.misses - reported.misses, counters.fetches - reported.fetches, counters.failedFetches - reported.failedFetches)
        }
        func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Counter {
            registry.makeCounter(descriptor: .init(namespace: "token_broker", metricName: name, unitName: "total", helpText: help), labels: labels)
        }
        counter("jwks_cache_lookups", "Keycloak key lookups, by result", [("result", "hit")]).increment(by: Int64(max(0, delta.0)))
        counter("jwks_cache_lookups", "Keycloak key lookups, by result", [("result", "miss")]).increment(by: Int64(max(0, delta.1)))
        counter("jwks_fetches", "JWKS fetches from Keycloak, by result", [("result", "success")]).increment(by: Int64(max(0, delta.2 - delta.3)))
        counter("jwks_fetches", "JWKS fetches from Keycloak, by result", [("result", "failure")]).increment(by: Int64(max(0, delta.3)))
        registry.makeGauge(descriptor: .init(namespace: "token_broker", metricName: "jwks_stale", unitName: "issuers", helpText: "Issuers whose keys are served stale because the last fetch failed"))
            .set(Double(stale))
    }

    /// Records a key ring reload outcome.
    /// A connection closed for a missed read deadline (`head`: no whole request head in time; `body`: a stalled body).
    func recordConnectionTimeout(_ phase: String) {
        registry.makeCounter(
            descriptor: .init(
                namespace: "token_broker", metricName: "connection_timeouts", unitName: "total",
                helpText: "Connections closed because a request head did not arrive or a body stalled within --request-head-timeout, by phase"),
            labels: [("phase", phase)]
        ).increment()
    }

    public func recordKeyRingReload(success: Bool) {
        registry.makeCounter(descriptor: .init(namespace: "token_broker", metricName: "key_ring_reloads", unitName: "total", helpText: "Key ring reloads (SIGHUP), by result"), labels: [("result", success ? "success" : "failure")]).increment()
    }

    /// Updates the gauges describing the key ring; called when `/metrics` is scraped.
    func updateKeyRing(activeKeyCreated: Date?, publishedKeys: Int, now: Date) {
        registry.makeGauge(descriptor: .init(namespace: "token_broker", metricName: "signing_key_age", unitName: "seconds", helpText: "Age of the active signing key"))
            .set(activeKeyCreated.map { now.timeIntervalSince($0) } ?? 0)
        registry.makeGauge(descriptor: .init(namespace: "token_broker", metricName: "published", unitName: "keys", helpText: "Keys published in the JWKS")).set(Double(publishedKeys))
    }
}
