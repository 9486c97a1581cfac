import Atomics
import Foundation
import Synchronization

/// API keys held in memory, so authenticating a request never waits on the database.
/// Reloaded in full on start, after every local change, on NOTIFY from other instances (PostgreSQL)
/// and periodically; a revoked key stops working on this instance in the same request that revoked it.
public final class APIKeyDirectory: Sendable {
    final class Snapshot: Sendable, AtomicReference {
        let byId: [String: APIKeyRecord]
        init(_ byId: [String: APIKeyRecord]) { self.byId = byId }
    }

    private let snapshot = ManagedAtomic(Snapshot([:]))
    private let lastMissReload = Mutex<ContinuousClock.Instant?>(nil)

    public init() {}

    /// The key with `id`, if it exists and is not revoked.
    public func activeKey(id: String) -> APIKeyRecord? {
        guard let record = snapshot.load(ordering: .acquiring).byId[id], record.revokedAt == nil else { return nil }
        return record
    }

    /// Claims the right to reload from the store after a miss: at most once per `interval`, so a flood of
    /// unknown key ids cannot turn into a flood of database queries.
    public func claimMissReload(interval: Duration = .seconds(1)) -> Bool {
        let now = ContinuousClock.now
        return lastMissReload.withLock { last in
            if let last, now - last < interval { return false }
            last = now
            return true
        }
    }

    /// Replaces every key.
    public func replace(with records: [APIKeyRecord]) {
        snapshot.store(Snapshot(Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })), ordering: .releasing)
    }
}
