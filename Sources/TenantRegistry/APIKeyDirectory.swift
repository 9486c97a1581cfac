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

    /// Takes in the keys a reload read. Revocation is for ever, so the result is the union of what is held and
    /// what was read, a key revoked in either being revoked: a reload that read the store before a revocation and
    /// finishes after it (or after another, newer reload) cannot bring the revoked key back, and a key created
    /// after it started is not dropped.
    public func replace(with records: [APIKeyRecord]) {
        var current = snapshot.load(ordering: .acquiring)
        while true {
            var merged = current.byId
            for record in records {
                if let held = merged[record.id], held.revokedAt != nil, record.revokedAt == nil { continue }
                merged[record.id] = record
            }
            let (exchanged, original) = snapshot.compareExchange(expected: current, desired: Snapshot(merged), ordering: .acquiringAndReleasing)
            if exchanged { return }
            current = original
        }
    }
}
