import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A Hummingbird server on a loopback address for the test doubles: starts on a free port (or the one it
/// had, so a double can go down and come back at the same address), goes down on demand (connections refused).
///
/// Each server has its own address in 127.0.0.0/8 on Linux. The broker's upstream HTTP client is one pool per
/// process, keyed by host and port; with every double on 127.0.0.1, a double started right after another one
/// stopped could get its port back, and a request could go out on the stopped double's pooled connection
/// before the pool had seen it close (an I/O error in a test that did nothing wrong).
public final class LoopbackServer: Sendable {
    private let portBox = Atomic<Int>(0)
    private let task = Mutex<Task<Void, any Error>?>(nil)
    let label: String
    /// The address this server listens on, for the whole of its life.
    public let host: String

    public init(label: String) {
        self.label = label
        #if os(Linux)
        host = "127.\(UInt8.random(in: 1...254)).\(UInt8.random(in: 1...254)).\(UInt8.random(in: 1...254))"
        #else
        host = "127.0.0.1"
        #endif
    }

    public var port: Int { portBox.load(ordering: .relaxed) }

    /// The doubles' server logger. Hummingbird logs at error what a double's stop always does (cancelled child
    /// channels, "already closed"): noise in every passing run. A double's real failures fail the test that uses it.
    static func quietLogger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .critical
        return logger
    }

    /// Serves `router` and returns once it listens; throws if it does not within 30 s (a starved test process at
    /// the start of a full run can take seconds), rather than hand out port 0 for a double that is not there.
    public func start(_ router: Router<BasicRequestContext>) async throws {
        let requested = port
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: requested)),
            onServerRunning: { [self] channel in portBox.store(channel.localAddress?.port ?? 0, ordering: .relaxed) },
            logger: Self.quietLogger(label))
        portBox.store(0, ordering: .relaxed)
        let running = Task { try await app.runService(gracefulShutdownSignals: []) }
        task.withLock { $0 = running }
        let deadline = ContinuousClock.now + .seconds(30)
        while port == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        guard port != 0 else {
            running.cancel()
            throw LoopbackServerError(message: "\(label) did not listen on \(host) within 30 s")
        }
    }

    /// Stops listening and waits for it; `start` again reuses the port.
    public func goDown() async {
        let running = task.withLock { task -> Task<Void, any Error>? in
            defer { task = nil }
            return task
        }
        let bound = port
        running?.cancel()
        _ = try? await running?.value
        portBox.store(bound, ordering: .relaxed)
    }

    /// Stops without waiting (for `defer` in synchronous contexts).
    public func stop() { task.withLock { $0?.cancel() } }
}

/// A double that could not start.
public struct LoopbackServerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
