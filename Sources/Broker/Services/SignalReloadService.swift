import Foundation
import KeyRing
import TenantRegistry
import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the key ring (and the in-memory tenants and API keys) on every SIGHUP. Requests in flight keep the snapshot they started with;
/// a directory that fails to load leaves the previous ring serving.
struct SignalReloadService: Service {
    let keyRing: KeyRing
    let tenants: TenantService
    let metrics: BrokerMetrics
    let notifier: SystemdNotifier
    let logger: Logger
    /// Called after each reload attempt (tests and systemd notification hook in here).
    let onReload: @Sendable (Bool) -> Void
    let tls: TLSMaterial?
    let configuration: ConfigurationReloader

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            logger.notice("SIGHUP received: reloading the configuration, key ring, tenants and API keys")
            notifier.reloading()
            configuration.reload(logger: logger)
            if let tls {
                switch tls.reload() {
                case .success: logger.notice("TLS certificate reloaded", metadata: ["certificate": .string(tls.certificatePath)])
                case .failure(let error): logger.error("TLS certificate reload failed; keeping the one in use", metadata: ["error": .string(error.description)])
                }
            }
            do {
                try await tenants.reloadAll()
            } catch {
                logger.error("registry reload failed; keeping what is in memory", metadata: ["error": "\(error)"])
            }
            let success: Bool
            switch keyRing.reload(logger: logger) {
            case .success: success = true
            case .failure: success = false
            }
            metrics.recordKeyRingReload(success: success)
            notifier.ready(status: success ? "reloaded" : "reload failed; serving the previous key ring")
            onReload(success)
        }
    }
}
