import Foundation
import Synchronization

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
    /// The tenant's own rate limits (nil fields: the operator defaults).
    public let limits: TenantLimits
    /// The mint limiter's state (`RateGate`): the theoretical arrival time of the next mint, in nanoseconds of
    /// `RateGate.now()`. Only this tenant's mints write it, so one tenant's flood contends on no one else's line.
    /// `TenantDirectory.merge` hands the same gate to the view that replaces this one while the tenant's mint
    /// limit stays the same, so a PATCH of another field neither refills it nor loses the mints counted on the
    /// old view meanwhile.
    public let mintGate: MintGate

    public init(_ tenant: Tenant, mintGate: MintGate = MintGate()) {
        self.mintGate = mintGate
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
        limits = tenant.limits
    }

    /// Status at `now`, as `Tenant.status(at:)`.
    public func status(at now: Date) -> TenantStatus {
        storedStatus.status(subscriptionEnded: expiresAt.map { $0 <= now } == true)
    }
}

/// A tenant's mint limiter state, shared by the successive views of the tenant while its limit stays the same.
public final class MintGate: Sendable {
    /// The theoretical arrival time of the next mint (`RateGate`), in nanoseconds of `RateGate.now()`.
    public let tat = Atomic<Int64>(0)

    public init() {}
}
