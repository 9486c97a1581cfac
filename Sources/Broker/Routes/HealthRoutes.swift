import Foundation
import Hummingbird
import JOSE
import Keycloak
import KeyRing

/// `/healthz` (the process is alive), `/readyz` (it can do its job) and `/metrics`.
struct HealthRoutes: Sendable {
    let checks: [any ReadinessCheck]
    let shutdown: ShutdownState
    let metrics: BrokerMetrics
    let keyRing: KeyRing
    /// Keycloak realms' keys: reported in `/readyz` (never making the broker unready) and in `/metrics`.
    let jwks: JWKSCache?

    func addRoutes(to router: Router<BrokerRequestContext>) {
        router.get("/healthz") { _, _ in
            JSONResponse.make(.object(["status": .string("ok")]), headers: [.cacheControl: "no-store"])
        }
        router.get("/readyz") { _, _ in await readiness() }
        router.get("/metrics") { _, _ in scrape() }
    }

    func readiness() async -> Response {
        var results = [String: JSONValue]()
        var ready = true
        for check in checks {
            if let reason = await check.failure() {
                ready = false
                results[check.name] = .object(["status": .string("fail"), "detail": .string(reason)])
            } else {
                results[check.name] = .object(["status": .string("ok")])
            }
        }
        if let jwks {
            // Keycloak being down does not make the broker unready; the detail says when keys are served stale.
            let statuses = jwks.statuses()
            let stale = statuses.filter(\.stale)
            var detail: [String: JSONValue] = ["status": .string(stale.isEmpty ? "ok" : "stale"), "issuers": .int(Int64(statuses.count))]
            if !stale.isEmpty {
                detail["detail"] = .string(
                    "\(stale.count) issuer(s) unreachable at the last refresh; the last good keys keep serving for up to 24 h: "
                        + stale.map { "\($0.jwksURL) (keys \(Int($0.age ?? 0)) s old)" }.joined(separator: ", "))
            }
            results["keycloak_jwks"] = .object(detail)
        }
        if shutdown.isDraining {
            ready = false
            results["shutdown"] = .object(["status": .string("fail"), "detail": .string("draining for shutdown")])
        }
        return JSONResponse.make(
            .object(["status": .string(ready ? "ok" : "unavailable"), "checks": .object(results)]),
            status: ready ? .ok : .serviceUnavailable, headers: [.cacheControl: "no-store"])
    }

    func scrape() -> Response {
        let snapshot = keyRing.current
        metrics.updateKeyRing(
            activeKeyCreated: snapshot.activeMetadata?.created, publishedKeys: snapshot.verificationKeys.count, now: Date())
        if let jwks { metrics.updateJWKS(counters: jwks.counters, stale: jwks.statuses().filter(\.stale).count) }
        return JSONResponse.make(
            bytes: metrics.registry.emitToBuffer(), headers: [.cacheControl: "no-store"],
            contentType: "text/plain; version=0.0.4; charset=utf-8")
    }
}
