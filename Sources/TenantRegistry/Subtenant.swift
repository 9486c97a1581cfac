import Foundation

/// A subtenant (a department, a regional office, an agency's client) of one tenant, one level deep. Its id
/// follows the tenant-id rules and is unique within its tenant; it has no domain of its own.
public struct Subtenant: Sendable, Equatable {
    public var tenantId: String
    public var subtenantId: String
    public var displayName: String?
    /// Feature switches that override the tenant's (`TenantView.effectiveFeatures(subtenant:)`).
    public var features: [String: Bool]
    /// `active` or `deleted` (logical delete; a subtenant is never suspended on its own).
    public var storedStatus: StoredStatus
    public var createdAt: Date
    public var updatedAt: Date
    public var deletedAt: Date?
    /// Incremented on every write; the ETag.
    public var version: Int

    public init(
        tenantId: String, subtenantId: String, displayName: String?, features: [String: Bool], storedStatus: StoredStatus = .active,
        createdAt: Date, updatedAt: Date, deletedAt: Date? = nil, version: Int = 1
    ) {
        self.tenantId = tenantId
        self.subtenantId = subtenantId
        self.displayName = displayName
        self.features = features
        self.storedStatus = storedStatus
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deletedAt = deletedAt
        self.version = version
    }

    /// The strong ETag of this version.
    public var etag: String { "\"v\(version)\"" }
}
