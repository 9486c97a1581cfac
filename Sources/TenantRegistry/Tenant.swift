import Foundation
import JOSE

/// A tenant as the registry stores it. `clientSecret` lives only here and in the store; it is never
/// part of a response.
public struct Tenant: Sendable, Equatable {
    public var tenantId: String
    public var domain: String
    public var keycloak: KeycloakSettings
    public var campaigns: [String: JSONValue]
    public var dialer: [String: JSONValue]
    public var mediaServer: [String: JSONValue]?
    public var twoFA: TwoFAConfig
    public var logo: Logo?
    public var subscriptionExpiresAt: Date?
    /// What operators set; `expired` is derived from `subscriptionExpiresAt`, never stored.
    public var storedStatus: StoredStatus
    public var createdAt: Date
    public var updatedAt: Date
    public var deletedAt: Date?
    /// Incremented on every write; the ETag.
    public var version: Int
    /// Feature switches (`SubtenantRules.parseFeatures`); each subtenant may override them.
    public var features: [String: Bool] = [:]
    /// Rate limits of this tenant; nil fields: the operator's defaults. Only system admins change them.
    public var limits = TenantLimits()

    /// The tenant's status at `now`: deleted and suspended win; an active tenant past its subscription is expired.
    public func status(at now: Date) -> TenantStatus {
        storedStatus.status(subscriptionEnded: subscriptionExpiresAt.map { $0 <= now } == true)
    }

    /// The strong ETag of this version.
    public var etag: String { "\"v\(version)\"" }
}
