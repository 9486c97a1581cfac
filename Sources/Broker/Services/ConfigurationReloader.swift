import Foundation
import Logging

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
