import Foundation

/// One OTP challenge: what was sent to whom (masked), under which rules, and how much of its budget is
/// used. The rules (`maxAttempts`, `expiresAt`, the OTP Manager and service) are copied from the tenant
/// when the challenge starts, so a policy change affects the next challenge, never a running one.
/// Sealed fields are AES-GCM ciphertexts made by the broker; the store never sees them in plaintext.
public struct OTPChallenge: Sendable, Equatable {
    public enum State: String, Sendable {
        case pending, verified, exhausted
    }

    public var challengeId: String
    public var tenantId: String
    /// `login` for tenant logins, otherwise the component's purpose.
    public var purpose: String
    public var channel: String
    public var maskedRecipient: String
    public var sealedRecipient: String?
    public var otpId: String?
    public var serviceIdentifier: String
    public var otpManagerURL: String
    public var createdAt: Date
    public var expiresAt: Date
    public var maxAttempts: Int
    public var attemptsUsed: Int
    /// Sends so far, the first included.
    public var sends: Int
    public var lastSentAt: Date
    public var state: State
    public var sealedTokens: String?

    public init(
        challengeId: String, tenantId: String, purpose: String, channel: String, maskedRecipient: String, sealedRecipient: String?,
        serviceIdentifier: String, otpManagerURL: String, createdAt: Date, expiresAt: Date, maxAttempts: Int, sealedTokens: String?
    ) {
        self.challengeId = challengeId
        self.tenantId = tenantId
        self.purpose = purpose
        self.channel = channel
        self.maskedRecipient = maskedRecipient
        self.sealedRecipient = sealedRecipient
        self.otpId = nil
        self.serviceIdentifier = serviceIdentifier
        self.otpManagerURL = otpManagerURL
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.maxAttempts = maxAttempts
        self.attemptsUsed = 0
        self.sends = 1
        self.lastSentAt = createdAt
        self.state = .pending
        self.sealedTokens = sealedTokens
    }

    public var attemptsRemaining: Int { max(0, maxAttempts - attemptsUsed) }
}
