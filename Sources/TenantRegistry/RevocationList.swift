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

    /// Takes in the entries a reload read. A revocation is never undone (entries leave only by `purge`, once
    /// their tokens expired), so they are merged in: a reload that read the store before a local revocation and
    /// finishes after it cannot bring the revoked token back.
    public func replace(with entries: [(jti: String, expiresAt: Double)]) {
        revoked.withLock { map in
            for entry in entries { map[entry.jti] = max(map[entry.jti] ?? entry.expiresAt, entry.expiresAt) }
        }
    }

    /// Drops entries whose tokens can no longer verify anyway.
    public func purge(before now: Double) {
        revoked.withLock { map in map = map.filter { $0.value > now } }
    }

    public var count: Int { revoked.withLock { $0.count } }
}
