import Logging
import ServiceLifecycle
import TenantRegistry

/// Wipes the sealed data of expired OTP challenges and deletes the ones expired for an hour, and deletes the
/// rate counters whose windows have ended, every minute.
struct ChallengePurgeService: Service {
    let tenants: TenantService
    let logger: Logger
    var interval: Duration = .seconds(60)

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            do {
                let deleted = try await tenants.store.purgeChallenges(now: tenants.clock())
                if deleted > 0 { logger.debug("purged expired OTP challenges", metadata: ["count": .stringConvertible(deleted)]) }
            } catch {
                logger.warning("OTP challenge purge failed", metadata: ["error": .string("\(error)")])
            }
            do {
                let deleted = try await tenants.store.purgeCounters(now: tenants.clock())
                if deleted > 0 { logger.debug("purged ended rate counters", metadata: ["count": .stringConvertible(deleted)]) }
            } catch {
                logger.warning("rate counter purge failed", metadata: ["error": .string("\(error)")])
            }
        }
    }
}
