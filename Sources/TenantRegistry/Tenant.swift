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

    /// The tenant's status at `now`: deleted and suspended win; an active tenant past its subscription is expired.
    public func status(at now: Date) -> TenantStatus {
        storedStatus.status(subscriptionEnded: subscriptionExpiresAt.map { $0 <= now } == true)
    }

    /// The strong ETag of this version.
    public var etag: String { "\"v\(version)\"" }
}

/// Status as stored: the operator's decision.
public enum StoredStatus: String, Sendable, Codable {
    case active, suspended, deleted

    /// The status of a tenant stored as `self` whose subscription has (`ended`) or has not ended: the one rule
    /// behind `Tenant.status(at:)`, `TenantView.status(at:)` and `TenantEntry.status(at:)`. A suspension or a
    /// deletion outranks an ended subscription.
    @inline(__always)
    public func status(subscriptionEnded ended: Bool) -> TenantStatus {
        switch self {
        case .deleted: .deleted
        case .suspended: .suspended
        case .active: ended ? .expired : .active
        }
    }
}

/// Status as seen at a point in time.
public enum TenantStatus: String, Sendable, CaseIterable {
    case active, suspended, expired, deleted
}

/// The tenant's identity realm.
public struct KeycloakSettings: Sendable, Equatable {
    public var realm: String
    public var clientId: String
    public var clientSecret: String?
    public var issuer: String?
    public var otpManagerURL: String?
}

/// The tenant's second-factor policy. When disabled, every other field is nil.
public struct TwoFAConfig: Sendable, Equatable {
    public var isEnabled: Bool
    public var channelType: Channel?
    public var serviceIdentifier: String?
    public var otpExpiry: Int?
    public var retryLimit: Int?

    /// The single channel a tenant sends codes on.
    public enum Channel: String, Sendable {
        case sms = "SMS"
        case email = "Email"
    }

    public static let disabled = TwoFAConfig(isEnabled: false)

    public init(isEnabled: Bool, channelType: Channel? = nil, serviceIdentifier: String? = nil, otpExpiry: Int? = nil, retryLimit: Int? = nil) {
        self.isEnabled = isEnabled
        self.channelType = channelType
        self.serviceIdentifier = serviceIdentifier
        self.otpExpiry = otpExpiry
        self.retryLimit = retryLimit
    }
}

/// A logo whose content was checked against its declared type.
public struct Logo: Sendable, Equatable {
    public var contentType: String
    public var data: [UInt8]
}
