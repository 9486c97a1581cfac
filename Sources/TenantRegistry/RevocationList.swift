import Foundation
import Synchronization

/// Revoked token ids held in memory until their tokens expire, so verification checks revocation
/// without a database round trip. Filled from the store at start and kept current locally and by NOTIFY.
public final class RevocationList: Sendable {
    private let revoked = Mutex<[String: Double]>([:])

    public init() {}

    public func isRevoked(_ jti: String) -> Bool {
        revoked.withLock { $0[jti] != nil }
    }

    public func add(_ jti: String, expiresAt: Double) {
        revoked.withLock { $0[jti] = expiresAt }
    }

    public func replace(with entries: [(jti: String, expiresAt: Double)]) {
        revoked.withLock { map in
            map = Dictionary(entries.map { ($0.jti, $0.expiresAt) }, uniquingKeysWith: max)
        }
    }

    /// Drops entries whose tokens can no longer verify anyway.
    public func purge(before now: Double) {
        revoked.withLock { map in map = map.filter { $0.value > now } }
    }

    public var count: Int { revoked.withLock { $0.count } }
}
