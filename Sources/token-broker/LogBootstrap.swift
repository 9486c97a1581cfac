import Broker
import Logging

/// The process's log handlers, chosen by `--log-format`.
enum LogBootstrap {
    /// Every logger follows `level`, which a SIGHUP may change.
    static func bootstrap(format: BrokerConfiguration.LogFormat, level: LogLevelControl) {
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler
            switch format {
            case .json: handler = JSONLogHandler(label: label)
            case .text: handler = TextLogHandler(label: label)
            }
            handler.logLevel = .trace
            return ReloadableLogHandler(handler, control: level)
        }
    }
}
