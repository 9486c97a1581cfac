import Dispatch
import Logging
import Synchronization

/// Refused requests (401 on any route, 403 at forward-auth: a bad, expired or foreign token or credential; 429
/// from a tenant's mint limit: a tenant flooding) are what a client sending garbage or too much produces, at any
/// rate it likes. Each one's access line is written at debug only;
/// at info they are summed up, at most one line per `interval` ("requests refused", with the count since the
/// last line), so a flood cannot fill the disk while an operator still sees that refusals happen. Every refusal
/// is also counted in `/metrics` (`http_requests_total{code}`, `verifications_total{result}`).
/// Atomics only: the refusal path takes no lock.
final class RefusalLog: Sendable {
    private let intervalNanoseconds: UInt64
    private let pending = Atomic<Int>(0)
    /// Uptime in nanoseconds of the last summary line; 0: none yet (the first refusal is summed up at once).
    private let lastSummary = Atomic<UInt64>(0)

    init(interval: Duration = .seconds(60)) {
        intervalNanoseconds = UInt64(interval.components.seconds) * 1_000_000_000 + UInt64(interval.components.attoseconds / 1_000_000_000)
    }

    /// Whether a response with `status` on `route` is a refusal this log sums up.
    static func isRefusal(status: Int, route: String) -> Bool {
        status == 401 || (status == 403 && route == RoutePaths.verify)
            || (status == 429 && (route == RoutePaths.mintLabel || route == RoutePaths.oauthTokenLabel))
    }

    /// Counts one refusal, and writes the summary line when the interval has passed.
    func record(_ logger: Logger) {
        pending.wrappingAdd(1, ordering: .relaxed)
        let now = DispatchTime.now().uptimeNanoseconds
        let last = lastSummary.load(ordering: .relaxed)
        guard last == 0 || now &- last >= intervalNanoseconds,
            lastSummary.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        else { return }
        let count = pending.exchange(0, ordering: .relaxed)
        var summary = Logger(label: logger.label)
        summary.logLevel = logger.logLevel
        summary.info(
            "requests refused (401, 403 at forward-auth, 429 by a tenant's mint limit); each is logged at debug",
            metadata: ["count": .stringConvertible(count), "sinceLastSummarySeconds": .stringConvertible(last == 0 ? 0 : (now &- last) / 1_000_000_000)])
    }
}
