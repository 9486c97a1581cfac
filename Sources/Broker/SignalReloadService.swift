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

/// Re-reads the configuration on SIGHUP and applies what can change live (token TTLs, log level); settings
/// that need a restart are named in the log, and a configuration that no longer loads keeps the old one.
final class ConfigurationReloader: Sendable {
    /// The configuration the process started with: restart-only settings are compared with it, so a change
    /// is named on every reload until the restart.
    let started: BrokerConfiguration
    let runtime: RuntimeSettings
    let load: (@Sendable () throws -> BrokerConfiguration)?

    init(current: BrokerConfiguration, runtime: RuntimeSettings, load: (@Sendable () throws -> BrokerConfiguration)?) {
        self.started = current
        self.runtime = runtime
        self.load = load
    }

    func reload(logger: Logger) {
        guard let load else { return }
        let new: BrokerConfiguration
        do {
            new = try load()
        } catch {
            logger.error("configuration reload failed; keeping the running configuration", metadata: ["error": .string("\(error)")])
            return
        }
        let (changed, needRestart) = runtime.apply(new, replacing: started)
        logger.notice("configuration reloaded", metadata: ["changed": .string(changed.isEmpty ? "nothing" : changed.joined(separator: ", "))])
        if !needRestart.isEmpty {
            logger.warning("changed settings that only apply after a restart", metadata: ["settings": .string(needRestart.joined(separator: ", "))])
        }
    }
}

/// A second SIGTERM or SIGINT while the broker drains means "now": the process exits at once (128 + signal)
/// instead of waiting out the grace period. Listed first in the service group, so it is shut down last and
/// keeps listening while the HTTP server drains.
struct ImpatientShutdownService: Service {
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        var seen = 0
        for await signal in signals.cancelOnGracefulShutdown() {
            seen += 1
            guard seen >= 2 else { continue }
            logger.warning("second \(signal) during shutdown: exiting now, in-flight requests are dropped")
            let code: Int32 = signal == .sigint ? 130 : 143
            exit(code)
        }
    }
}
