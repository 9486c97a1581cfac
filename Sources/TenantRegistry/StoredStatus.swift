/// Status as stored: the operator's decision.
public enum StoredStatus: String, Sendable, Codable {
    case active, suspended, deleted
    /// A deleted tenant whose data was purged: only a tombstone (id, domain, timestamps) is left, so the id and
    /// the domain are never reused.
    case purged

    /// Deleted or purged: the tenant is gone for every caller but the registry's own listings.
    public var isGone: Bool { self == .deleted || self == .purged }

    /// The status of a tenant stored as `self` whose subscription has (`ended`) or has not ended: the one rule
    /// behind `Tenant.status(at:)`, `TenantView.status(at:)` and `TenantEntry.status(at:)`. A suspension or a
    /// deletion outranks an ended subscription.
    @inline(__always)
    public func status(subscriptionEnded ended: Bool) -> TenantStatus {
        switch self {
        case .deleted: .deleted
        case .purged: .purged
        case .suspended: .suspended
        case .active: ended ? .expired : .active
        }
    }
}
