import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

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
