import Foundation
import Hummingbird
import JOSE
import KeyRing

/// `/healthz` (the process is alive), `/readyz` (it can do its job) and `/metrics`.
struct HealthController: Sendable {
    let checks: [any ReadinessCheck]
    let shutdown: ShutdownState
    let metrics: BrokerMetrics
    let keyRing: KeyRing

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
        return JSONResponse.make(
            bytes: metrics.registry.emitToBuffer(), headers: [.cacheControl: "no-store"],
            contentType: "text/plain; version=0.0.4; charset=utf-8")
    }
}
