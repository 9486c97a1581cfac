import Atomics
import ServiceLifecycle

/// Flips to "draining" when graceful shutdown starts, so `/readyz` sends load balancers away
/// while in-flight requests finish.
public final class ShutdownState: Service, Sendable {
    private let draining = ManagedAtomic(false)
    private let notifier: SystemdNotifier

    public init(notifier: SystemdNotifier = SystemdNotifier(environment: [:])) {
        self.notifier = notifier
    }

    /// Whether graceful shutdown has begun.
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    public func run() async throws {
        await withGracefulShutdownHandler {
            try? await gracefulShutdown()
        } onGracefulShutdown: {
            self.draining.store(true, ordering: .relaxed)
            self.notifier.stopping()
        }
        draining.store(true, ordering: .relaxed)
    }
}
