import Foundation

/// What the hot path (minting, verification) needs of a tenant: no logo, no secret, no free-form JSON.
public struct TenantView: Sendable, Equatable {
    public var tenantId: String
    public var domain: String
    public var realm: String
    public var issuer: String?
    public var storedStatus: StoredStatus
    public var expiresAt: Date?
    public var createdAt: Date
    public var twoFA: TwoFAConfig
    public var otpManagerURL: String?
    public var version: Int

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
    }

    /// Status at `now`, as `Tenant.status(at:)`.
    public func status(at now: Date) -> TenantStatus {
        switch storedStatus {
        case .deleted: return .deleted
        case .suspended: return .suspended
        case .active: return expiresAt.map { $0 <= now } == true ? .expired : .active
        }
    }
}
