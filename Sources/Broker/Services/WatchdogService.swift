import ServiceLifecycle

/// Sends WATCHDOG=1 at half the interval systemd asked for, while the broker runs.
struct WatchdogService: Service {
    let notifier: SystemdNotifier

    func run() async throws {
        guard let interval = notifier.watchdogInterval else {
            try? await gracefulShutdown()
            return
        }
        // Cancelled at graceful shutdown, so a sleeping watchdog never delays it.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                notifier.watchdog()
                try await Task.sleep(for: interval)
            }
        }
    }
}
