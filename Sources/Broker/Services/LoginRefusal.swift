import TenantRegistry

/// Why a login was refused before or after the identity provider answered; mapped in `ErrorMapping`.
/// The provider's own refusals are thrown as `OIDCFailure`.
enum LoginRefusal: Error, Sendable {
    /// Too many recent failures for the username or the client address: `retryAfter` seconds to wait (429).
    case throttled(retryAfter: Int)
    /// The tenant's logins this minute (`limits.loginPerMinute`, all instances on one store together) are used up.
    case tenantRateLimited(limit: Int, retryAfter: Int)
    /// The account has no address for the tenant's second factor; `claim` names where it was looked for.
    case recipientMissing(channel: TwoFAConfig.Channel, claim: String)
}
