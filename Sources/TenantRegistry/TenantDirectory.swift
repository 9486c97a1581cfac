import Atomics
import Foundation
import Synchronization

/// An immutable index of every tenant by id and by domain.
public final class TenantSnapshot: Sendable, AtomicReference {
    public let byId: [String: TenantView]
    public let byDomain: [String: TenantView]
    /// Tenants by Keycloak realm, for tokens whose issuer is `<keycloakUrl>/realms/<realm>`.
    public let byRealm: [String: TenantView]
    /// Tenants that name an explicit issuer, by that issuer.
    public let byIssuer: [String: TenantView]

    init(byId: [String: TenantView]) {
        self.byId = byId
        var domains = [String: TenantView]()
        var realms = [String: TenantView]()
        var issuers = [String: TenantView]()
        domains.reserveCapacity(byId.count)
        realms.reserveCapacity(byId.count)
        var ambiguousRealms = Set<String>()
        var ambiguousIssuers = Set<String>()
        for view in byId.values {
            domains[view.domain] = view
            // Deleted tenants keep their record but not their realm; two live tenants on one realm or issuer
            // are ambiguous, and an ambiguous token names no tenant at all.
            guard view.storedStatus != .deleted else { continue }
            if let issuer = view.issuer {
                if issuers.updateValue(view, forKey: issuer) != nil { ambiguousIssuers.insert(issuer) }
            } else if realms.updateValue(view, forKey: view.realm) != nil {
                ambiguousRealms.insert(view.realm)
            }
        }
        for realm in ambiguousRealms { realms[realm] = nil }
        for issuer in ambiguousIssuers { issuers[issuer] = nil }
        self.byDomain = domains
        self.byRealm = realms
        self.byIssuer = issuers
    }
}

/// The in-memory tenant view the hot path reads: lock-free loads of an immutable snapshot, replaced
/// on every local write, on NOTIFY from other instances, and by a periodic full reload.
/// Writers merge by version, so a slow full reload never overwrites a newer single-tenant update.
public final class TenantDirectory: Sendable {
    private let snapshot = ManagedAtomic(TenantSnapshot(byId: [:]))
    private let writer = Mutex(())

    public init() {}

    /// The current snapshot; take it once per request.
    public var current: TenantSnapshot { snapshot.load(ordering: .acquiring) }

    public func tenant(id: String) -> TenantView? { current.byId[id] }

    public func tenant(domain: String) -> TenantView? { current.byDomain[domain] }

    /// Adds or replaces tenants whose version is newer than what the view holds.
    public func merge(_ tenants: [Tenant]) {
        guard !tenants.isEmpty else { return }
        writer.withLock { _ in
            var byId = snapshot.load(ordering: .acquiring).byId
            var changed = false
            for tenant in tenants where (byId[tenant.tenantId]?.version ?? 0) < tenant.version {
                byId[tenant.tenantId] = TenantView(tenant)
                changed = true
            }
            if changed { snapshot.store(TenantSnapshot(byId: byId), ordering: .releasing) }
        }
    }
}
