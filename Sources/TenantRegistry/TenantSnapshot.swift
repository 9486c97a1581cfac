import Atomics

/// Every snapshot's generation, unique in the process (so a thread's cached snapshot can never be taken
/// for another directory's).
private let snapshotGenerations = ManagedAtomic<UInt64>(0)

/// An immutable index of every tenant by id and by domain.
public final class TenantSnapshot: Sendable, AtomicReference {
    public let byId: [String: TenantView]
    public let byDomain: [String: TenantView]
    /// Tenants by Keycloak realm, for tokens whose issuer is `<keycloakUrl>/realms/<realm>`.
    public let byRealm: [String: TenantView]
    /// Tenants that name an explicit issuer, by that issuer.
    public let byIssuer: [String: TenantView]
    /// `byId` and `byDomain` again, as hash indexes for the hot path's lookups (`tenant(id:)`, `tenant(domain:)`).
    let idIndex: TenantIndex
    let domainIndex: TenantIndex
    /// Unique in the process; increases with every snapshot built.
    let generation: UInt64

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
            guard !view.storedStatus.isGone else { continue }
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
        // Built from the dictionaries themselves, so they map exactly the same keys to the same views.
        idIndex = TenantIndex(byId, key: .tenantId)
        domainIndex = TenantIndex(domains, key: .domain)
        generation = snapshotGenerations.wrappingIncrementThenLoad(ordering: .relaxed)
    }

    deinit {
        idIndex.release()
        domainIndex.release()
    }

    /// Bytes of the hash indexes' slot tables mapped outside malloc (tables of 2 MiB or more, for huge pages).
    public var hashIndexMappedBytes: Int { idIndex.mappedBytes + domainIndex.mappedBytes }

    /// The hash indexes' shape, for diagnostics: `name:keys/slots x slot bytes + suffixes`.
    public var hashIndexSummary: String {
        [("idIndex", idIndex), ("domainIndex", domainIndex)]
            .map { "\($0.0):\($0.1.count)/\($0.1.capacity)x\($0.1.slotSize)B\($0.1.isHugePageMapped ? "(huge)" : "")+\($0.1.suffixCount)suffixes" }
            .joined(separator: ",")
    }

    /// `byId[id]`, through the hash index.
    public func tenant(id: String) -> TenantView? {
        withView(id, in: idIndex, else: byId) { view in copy view }
    }

    /// `byDomain[domain]`, through the hash index.
    public func tenant(domain: String) -> TenantView? {
        withView(domain, in: domainIndex, else: byDomain) { view in copy view }
    }

    /// The one lookup behind `tenant(id:)`, `tenant(domain:)` and the directory's `withTenant`: `dictionary[key]`
    /// as the hash `index` built from it answers it, or the dictionary itself when the index cannot tell
    /// (`unsure`). The view is lent to `body`, not retained.
    @inline(__always)
    func withView<Result>(
        _ key: String, in index: TenantIndex, else dictionary: [String: TenantView], _ body: (borrowing TenantView?) throws -> Result
    ) rethrows -> Result {
        switch index.probe(key) {
        case .hit(let slot): try TenantIndex.view(at: slot)._withUnsafeGuaranteedRef { try body($0) }
        case .miss: try body(nil)
        case .unsure: try body(dictionary[key])
        }
    }

    /// As `withView`, lending a `TenantEntry`: status and (by id) domain from the index slot, without the view.
    @inline(__always)
    func withEntry<Result>(
        _ key: String, in index: TenantIndex, else dictionary: [String: TenantView], _ body: (TenantEntry?) throws -> Result
    ) rethrows -> Result {
        switch index.probe(key) {
        case .hit(let slot): return try body(TenantEntry(slot: slot, in: index))
        case .miss: return try body(nil)
        case .unsure:
            guard let view = dictionary[key] else { return try body(nil) }
            return try withExtendedLifetime(view) { try body(TenantEntry(view: .passUnretained(view))) }
        }
    }
}
