import Logging
import ServiceLifecycle
import TenantRegistry

/// Purges deleted tenants once `--deleted-tenant-retention` days have passed since their deletion, every
/// `interval` (10 minutes), up to 100 per sweep (the next sweep takes the rest). Every instance tries; on a
/// shared PostgreSQL one at a time sweeps (an advisory lock, `SQLTenantStore.withRetentionLock`), and the purge's
/// row lock and status check keep a tenant an operator purges meanwhile from being purged twice.
struct RetentionService: Service {
    let tenants: TenantService
    let retentionDays: Int
    let logger: Logger
    var interval: Duration = .seconds(600)

    func run() async throws {
        guard retentionDays > 0 else {
            // Nothing to do, but a service that returns would end the whole group: wait for the shutdown.
            try? await gracefulShutdown()
            return
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let purged = try await tenants.purgeExpiredDeletions(retentionDays: retentionDays)
                if purged > 0 { logger.notice("retention purged deleted tenants", metadata: ["count": .stringConvertible(purged), "retentionDays": .stringConvertible(retentionDays)]) }
            } catch {
                logger.warning("retention sweep failed; the next sweep tries again", metadata: ["error": .string("\(error)")])
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }
}
