import TenantRegistry

/// Why an OTP challenge could not be started, resent or checked; the HTTP layer maps each case to one status
/// and problem code. The store's own failures are thrown as `StoreError`.
package enum ChallengeError: Error, Equatable, Sendable {
    /// The tenant is unknown or deleted.
    case tenantNotFound
    /// The tenant is suspended or expired.
    case tenantInactive(TenantStatus)
    /// The tenant has two-factor authentication off.
    case twoFactorDisabled
    /// The tenant has it on, but its settings (OTP Manager, service, expiry, retries, channel) are incomplete.
    case twoFactorIncomplete
    /// No such challenge for this tenant and flow, or it was already verified.
    case notFound
    case expired
    /// No attempts left: the challenge is dead.
    case exhausted
    /// The code is not 1-32 letters or digits.
    case malformedOTP
    /// The OTP Manager said the code is wrong; `remaining` attempts are left.
    case wrongOTP(remaining: Int)
    /// The challenge has been sent `sends` times, the most allowed.
    case resendLimitReached(sends: Int)
    /// The last send was too recent: `retryAfter` seconds to wait.
    case resendTooSoon(retryAfter: Int)
    /// The recipient a challenge holds cannot be opened (another instance's sealing key).
    case recipientSealed
    /// The tokens a login challenge holds cannot be opened (another instance's sealing key).
    case heldTokensSealed
    /// The OTP Manager failed; the attempt was not counted.
    case upstream(OTPUpstreamFailure)
    /// The tenant's OTP sends this minute (`limits.otpPerMinute`, all instances on one store together) are used
    /// up: `retryAfter` seconds until the next minute; nothing was sent.
    case rateLimited(limit: Int, retryAfter: Int)
}
