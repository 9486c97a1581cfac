import Foundation

/// One row of the `otp_challenges` table.
struct ChallengeRow: Codable, Sendable {
    var challenge_id: String
    var tenant_id: String
    var purpose: String
    var channel: String
    var masked_recipient: String
    var sealed_recipient: String?
    var otp_id: String?
    var service_identifier: String
    var otp_manager_url: String
    var created_at: Int64
    var expires_at: Int64
    var max_attempts: Int64
    var attempts_used: Int64
    var sends: Int64
    var last_sent_at: Int64
    var state: String
    var sealed_tokens: String?

    init(_ c: OTPChallenge) {
        challenge_id = c.challengeId
        tenant_id = c.tenantId
        purpose = c.purpose
        channel = c.channel
        masked_recipient = c.maskedRecipient
        sealed_recipient = c.sealedRecipient
        otp_id = c.otpId
        service_identifier = c.serviceIdentifier
        otp_manager_url = c.otpManagerURL
        created_at = Milliseconds.from(c.createdAt)
        expires_at = Milliseconds.from(c.expiresAt)
        max_attempts = Int64(c.maxAttempts)
        attempts_used = Int64(c.attemptsUsed)
        sends = Int64(c.sends)
        last_sent_at = Milliseconds.from(c.lastSentAt)
        state = c.state.rawValue
        sealed_tokens = c.sealedTokens
    }

    var challenge: OTPChallenge? {
        guard let state = OTPChallenge.State(rawValue: state) else { return nil }
        var c = OTPChallenge(
            challengeId: challenge_id, tenantId: tenant_id, purpose: purpose, channel: channel, maskedRecipient: masked_recipient,
            sealedRecipient: sealed_recipient, serviceIdentifier: service_identifier, otpManagerURL: otp_manager_url,
            createdAt: Date(timeIntervalSince1970: Double(created_at) / 1000), expiresAt: Date(timeIntervalSince1970: Double(expires_at) / 1000),
            maxAttempts: Int(max_attempts), sealedTokens: sealed_tokens)
        c.otpId = otp_id
        c.attemptsUsed = Int(attempts_used)
        c.sends = Int(sends)
        c.lastSentAt = Date(timeIntervalSince1970: Double(last_sent_at) / 1000)
        c.state = state
        return c
    }
}
