import Logging
import ServiceLifecycle
import TenantRegistry

/// Keeps this instance's tenant view in step with the others: on PostgreSQL it LISTENs for changes
/// (reconnecting after failures, with a full reload each time), and on every store it reloads what changed
/// periodically as a safety net (`TenantService.reloadChanges`: incremental, whole every tenth minute or so).
struct TenantSyncService: Service {
    let service: TenantService
    let reloadInterval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                if service.store.isShared {
                    group.addTask { await listenLoop() }
                }
                group.addTask { await reloadLoop() }
            }
        }
    }

    func listenLoop() async {
        var delay = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                // Reload after (re)connecting, so changes made while not listening are not missed.
                try await service.reloadAll()
                delay = .milliseconds(200)
                try await service.store.listenForChanges { tenantId in await service.refresh(tenantId) }
            } catch {
                if Task.isCancelled { return }
                logger.warning("tenant change listener failed; retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    func reloadLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: reloadInterval)
            if Task.isCancelled { return }
            do {
                let report = try await service.reloadChanges()
                logger.debug(
                    "periodic tenant reload",
                    metadata: ["full": .stringConvertible(report.full), "tenants": .stringConvertible(report.tenants)])
            } catch {
                logger.warning("periodic tenant reload failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
