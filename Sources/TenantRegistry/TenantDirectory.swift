import Atomics
import Foundation
import Synchronization

/// The in-memory tenant view the hot path reads: lock-free loads of an immutable snapshot, replaced
/// on every local write, on NOTIFY from other instances, and by a periodic full reload.
/// Writers merge by version, so a slow full reload never overwrites a newer single-tenant update.
///
/// Readers do not load the snapshot reference itself on every lookup (an atomic strong load is a few
/// locked read-modify-writes on one shared cache line, which also keep consecutive lookups from
/// overlapping their cache misses). Each thread keeps the snapshot it last used, and a lookup only compares
/// that snapshot's generation with the directory's current one (one plain load); when they differ the
/// thread loads the new snapshot and caches it. Writers publish the snapshot before its generation, so a
/// reader that sees the new generation gets the new snapshot. A thread holds on to a replaced snapshot
/// until its next lookup (or its exit). Freeing a snapshot of 100k tenants takes milliseconds, so a
/// reader that finds it holds the last reference does not free it but hands it to `retired`, which the
/// next `merge` (a writer: a write, a NOTIFY, the periodic reload) empties.
public final class TenantDirectory: Sendable {
    /// A snapshot a reader thread let go of while holding its last reference, waiting for a writer to free it.
    private final class RetiredSnapshot: AtomicReference, Sendable {
        let snapshot: TenantSnapshot
        let next: RetiredSnapshot?

        init(_ snapshot: TenantSnapshot, next: RetiredSnapshot?) {
            self.snapshot = snapshot
            self.next = next
        }
    }

    private let snapshot: ManagedAtomic<TenantSnapshot>
    private let retired = ManagedAtomic<RetiredSnapshot?>(nil)
    /// The generation of the snapshot in `snapshot`, stored after it.
    private let generation: Atomic<UInt64>
    private let writer = Mutex(())
    /// `threadSnapshotCacheKey`, copied so that a lookup does not go through the global's lazy initializer.
    private let cacheKey = threadSnapshotCacheKey

    public init() {
        let empty = TenantSnapshot(byId: [:])
        snapshot = ManagedAtomic(empty)
        generation = Atomic(empty.generation)
    }

    /// The current snapshot; take it once per request.
    public var current: TenantSnapshot { currentReference().takeUnretainedValue() }

    public func tenant(id: String) -> TenantView? {
        currentReference()._withUnsafeGuaranteedRef { $0.tenant(id: id) }
    }

    public func tenant(domain: String) -> TenantView? {
        currentReference()._withUnsafeGuaranteedRef { $0.tenant(domain: domain) }
    }

    /// Calls `body` with the tenant whose id is `id` (nil if none), without retaining it: the view is borrowed
    /// from this thread's snapshot, valid only inside `body`, which must not call into the directory. On
    /// the hot path this saves two atomic reference count updates on the view, whose cache line every
    /// thread serving that tenant would otherwise write.
    @inline(__always)
    public func withTenant<Result>(id: String, _ body: (borrowing TenantView?) throws -> Result) rethrows -> Result {
        try currentReference()._withUnsafeGuaranteedRef { try $0.withView(id, in: $0.idIndex, else: $0.byId, body) }
    }

    /// As `withTenant(id:_:)`, by domain.
    @inline(__always)
    public func withTenant<Result>(domain: String, _ body: (borrowing TenantView?) throws -> Result) rethrows -> Result {
        try currentReference()._withUnsafeGuaranteedRef { try $0.withView(domain, in: $0.domainIndex, else: $0.byDomain, body) }
    }

    /// Calls `body` with the tenant whose id is `id` as a `TenantEntry` (nil if none): the hot path's lookup.
    /// Its status and whether a domain is its own come from the index slot the lookup loaded, so at 100k
    /// tenants it costs one cache miss where `withTenant(id:_:)` and reading the view cost two or three.
    /// Valid only inside `body`, which must not call into the directory.
    @inline(__always)
    public func withTenantEntry<Result>(id: String, _ body: (TenantEntry?) throws -> Result) rethrows -> Result {
        try currentReference()._withUnsafeGuaranteedRef { try $0.withEntry(id, in: $0.idIndex, else: $0.byId, body) }
    }

    /// As `withTenantEntry(id:_:)`, by domain (its `hasDomain` reads the view).
    @inline(__always)
    public func withTenantEntry<Result>(domain: String, _ body: (TenantEntry?) throws -> Result) rethrows -> Result {
        try currentReference()._withUnsafeGuaranteedRef { try $0.withEntry(domain, in: $0.domainIndex, else: $0.byDomain, body) }
    }

    /// The current snapshot, owned by this thread's cache: valid until this thread's next call into the
    /// directory, so use it right away and never across a call that could refresh the cache.
    @inline(__always)
    private func currentReference() -> Unmanaged<TenantSnapshot> {
        let expected = generation.load(ordering: .acquiring)
        if let raw = pthread_getspecific(cacheKey) {
            let cached = Unmanaged<ThreadSnapshotCache>.fromOpaque(raw)._withUnsafeGuaranteedRef {
                $0.generation == expected ? $0.snapshot : nil
            }
            if let cached { return cached }
        }
        return refreshThreadCache()
    }

    @inline(never)
    private func refreshThreadCache() -> Unmanaged<TenantSnapshot> {
        let latest = Unmanaged.passRetained(snapshot.load(ordering: .acquiring))
        let cache = ThreadSnapshotCache.current
        let previous = cache.snapshot
        cache.snapshot = latest
        cache.generation = latest._withUnsafeGuaranteedRef { $0.generation }
        if var previous = previous?.takeRetainedValue(), isKnownUniquelyReferenced(&previous) {
            retire(previous)
        }
        return latest
    }

    private func retire(_ snapshot: TenantSnapshot) {
        var head = retired.load(ordering: .relaxed)
        while true {
            let (done, current) = retired.compareExchange(
                expected: head, desired: RetiredSnapshot(snapshot, next: head), ordering: .releasing)
            if done { return }
            head = current
        }
    }

    /// Adds or replaces tenants whose version is newer than what the view holds. Also frees the snapshots
    /// readers retired (see above).
    public func merge(_ tenants: [Tenant]) {
        let retiredSnapshots = retired.exchange(nil, ordering: .acquiring)
        defer { withExtendedLifetime(retiredSnapshots) {} }
        guard !tenants.isEmpty else { return }
        writer.withLock { _ in
            var byId = snapshot.load(ordering: .acquiring).byId
            var changed = false
            for tenant in tenants where (byId[tenant.tenantId]?.version ?? 0) < tenant.version {
                // A write that keeps the mint limit keeps the limiter (the same gate); a new limit starts with a full bucket.
                let previous = byId[tenant.tenantId]
                let view =
                    if let previous, previous.limits.mintPerSecond == tenant.limits.mintPerSecond {
                        TenantView(tenant, mintGate: previous.mintGate)
                    } else {
                        TenantView(tenant)
                    }
                byId[tenant.tenantId] = view
                changed = true
            }
            if changed {
                let next = TenantSnapshot(byId: byId)
                snapshot.store(next, ordering: .releasing)
                generation.store(next.generation, ordering: .releasing)
            }
        }
    }
}
