/// Status as seen at a point in time.
public enum TenantStatus: String, Sendable, CaseIterable {
    case active, suspended, expired, deleted, purged
}
