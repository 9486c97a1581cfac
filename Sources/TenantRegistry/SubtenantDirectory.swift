import Atomics

/// Every tenant's subtenants in memory, for minting and verifying subtenant tokens without a database round
/// trip: one atomic load of an immutable snapshot per lookup (tenant tokens never look here). Replaced on every
/// local write, on NOTIFY `sub:<tenantId>` from other instances and by the periodic reload; merged by version
/// per subtenant, so a slow reload never brings back an older state.
public final class SubtenantDirectory: Sendable {
    final class Snapshot: Sendable, AtomicReference {
        let byTenant: [String: [String: SubtenantView]]
        let versions: [String: [String: Int]]
        init(byTenant: [String: [String: SubtenantView]], versions: [String: [String: Int]]) {
            self.byTenant = byTenant
            self.versions = versions
        }
    }

    private let snapshot = ManagedAtomic(Snapshot(byTenant: [:], versions: [:]))

    public init() {}

    /// Subtenant `subtenantId` of `tenantId`, deleted ones included; nil when there is none.
    @inline(__always)
    public func subtenant(_ tenantId: String, _ subtenantId: String) -> SubtenantView? {
        snapshot.load(ordering: .acquiring).byTenant[tenantId]?[subtenantId]
    }

    /// Every subtenant of `tenantId`, by id.
    public func subtenants(of tenantId: String) -> [String: SubtenantView] {
        snapshot.load(ordering: .acquiring).byTenant[tenantId] ?? [:]
    }

    /// Counts over every tenant: all subtenants, and those not deleted.
    public func counts() -> (total: Int, active: Int) {
        var total = 0
        var active = 0
        for subtenants in snapshot.load(ordering: .acquiring).byTenant.values {
            total += subtenants.count
            active += subtenants.values.filter { !$0.isDeleted }.count
        }
        return (total, active)
    }

    /// Takes in subtenants read from the store or just written; each replaces what is held only if it is newer.
    public func merge(_ subtenants: [Subtenant]) {
        guard !subtenants.isEmpty else { return }
        var current = snapshot.load(ordering: .acquiring)
        while true {
            var byTenant = current.byTenant
            var versions = current.versions
            var changed = false
            for subtenant in subtenants where (versions[subtenant.tenantId]?[subtenant.subtenantId] ?? 0) < subtenant.version {
                byTenant[subtenant.tenantId, default: [:]][subtenant.subtenantId] = SubtenantView(subtenant)
                versions[subtenant.tenantId, default: [:]][subtenant.subtenantId] = subtenant.version
                changed = true
            }
            guard changed else { return }
            let (exchanged, original) = snapshot.compareExchange(
                expected: current, desired: Snapshot(byTenant: byTenant, versions: versions), ordering: .acquiringAndReleasing)
            if exchanged { return }
            current = original
        }
    }
}
