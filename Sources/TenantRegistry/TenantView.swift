import Foundation

/// What the hot path (minting, verification) needs of a tenant: no logo, no secret, no free-form JSON.
/// Immutable and shared by reference: every index of a snapshot points at one instance, so a lookup
/// hands out a pointer instead of copying the fields (and retaining each of their strings).
public final class TenantView: Sendable {
    public let tenantId: String
    public let domain: String
    public let realm: String
    public let issuer: String?
    public let storedStatus: StoredStatus
    public let expiresAt: Date?
    public let createdAt: Date
    public let twoFA: TwoFAConfig
    public let otpManagerURL: String?
    public let version: Int
    /// The tenant's feature switches (subtenants' overrides live in `SubtenantDirectory`).
    public let features: [String: Bool]

    public init(_ tenant: Tenant) {
        tenantId = tenant.tenantId
        domain = tenant.domain
        realm = tenant.keycloak.realm
        issuer = tenant.keycloak.issuer
        storedStatus = tenant.storedStatus
        expiresAt = tenant.subscriptionExpiresAt
        createdAt = tenant.createdAt
        twoFA = tenant.twoFA
        otpManagerURL = tenant.keycloak.otpManagerURL
        version = tenant.version
        features = tenant.features
    }

    /// Status at `now`, as `Tenant.status(at:)`.
    public func status(at now: Date) -> TenantStatus {
        storedStatus.status(subscriptionEnded: expiresAt.map { $0 <= now } == true)
    }
}
