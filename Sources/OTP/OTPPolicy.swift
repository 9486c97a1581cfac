/// Rules of the OTP flows that are the broker's, not the tenant's.
public struct OTPPolicy: Sendable {
    /// Resends allowed after the first send.
    public var resendLimit = 3
    /// Seconds between two sends of one challenge.
    public var resendSpacing = 30.0
    public var emailClaim = "email"
    public var phoneClaim = "phone_number"

    public init(resendLimit: Int = 3, resendSpacing: Double = 30.0, emailClaim: String = "email", phoneClaim: String = "phone_number") {
        self.resendLimit = resendLimit
        self.resendSpacing = resendSpacing
        self.emailClaim = emailClaim
        self.phoneClaim = phoneClaim
    }
}
