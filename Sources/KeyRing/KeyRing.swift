import Atomics
import Foundation
import JOSE
import Logging

/// The live key ring: a snapshot that readers take without locks, swapped atomically on reload.
public final class KeyRing: Sendable {
    private let snapshot: ManagedAtomic<KeyRingSnapshot>
    /// The directory this ring was loaded from.
    public let directory: KeyRingDirectory

    /// Loads the ring from `directory`; with `bootstrap`, an empty directory gets a fresh ES256 active key.
    public init(directory: KeyRingDirectory, bootstrap: Bool, logger: Logger) throws(KeyRingError) {
        self.directory = directory
        if bootstrap, let created = try directory.bootstrapIfEmpty() {
            logger.notice(
                "key ring was empty: generated an ES256 signing key",
                metadata: ["kid": "\(created.kid)", "keysDir": "\(directory.path)"])
        }
        let loaded = try directory.load()
        logger.info(
            "key ring loaded",
            metadata: ["activeKid": "\(loaded.active.kid)", "published": "\(loaded.verificationKeys.count)", "keysDir": "\(directory.path)"])
        self.snapshot = ManagedAtomic(loaded)
    }

    /// The current snapshot. Cheap and lock-free: take it once per request.
    public var current: KeyRingSnapshot {
        snapshot.load(ordering: .acquiring)
    }

    /// Re-reads the directory and swaps the ring in one step. On any error the old ring stays in place.
    @discardableResult
    public func reload(logger: Logger) -> Result<KeyRingSnapshot, KeyRingError> {
        do {
            let fresh = try directory.load()
            let old = snapshot.exchange(fresh, ordering: .acquiringAndReleasing)
            logger.notice(
                "key ring reloaded",
                metadata: [
                    "activeKid": "\(fresh.active.kid)", "previousActiveKid": "\(old.active.kid)",
                    "published": "\(fresh.verificationKeys.count)",
                ])
            return .success(fresh)
        } catch {
            logger.error("key ring reload failed; keeping the previous ring", metadata: ["error": "\(error)"])
            return .failure(error)
        }
    }
}
