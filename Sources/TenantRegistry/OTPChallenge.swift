import Foundation
import SQLKit

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

/// Challenge storage. Every budget change is one conditional UPDATE, so instances sharing a PostgreSQL
/// (or requests racing on one SQLite) can never spend more attempts or resends than the challenge has.
extension SQLTenantStore {
    public func createChallenge(_ challenge: OTPChallenge) async throws(StoreError) {
        let row = ChallengeRow(challenge)
        do {
            try await backend.transaction { db in try await db.insert(into: "otp_challenges").model(row).run() }
        } catch {
            throw backend.translate(error)
        }
    }

    public func challenge(_ id: String) async throws(StoreError) -> OTPChallenge? {
        do {
            let rows = try await backend.read { db in
                try await db.raw("SELECT * FROM otp_challenges WHERE challenge_id = \(bind: id)").all(decoding: ChallengeRow.self)
            }
            return rows.first?.challenge
        } catch {
            throw backend.translate(error)
        }
    }

    /// Keeps the OTP Manager's `otpId` of the latest send.
    public func setChallengeOTPId(_ id: String, otpId: String) async throws(StoreError) {
        try await execute("UPDATE otp_challenges SET otp_id = \(bind: otpId) WHERE challenge_id = \(bind: id)")
    }

    /// Takes one attempt if the challenge is pending, unexpired at `now` and has attempts left; the new
    /// count of used attempts, or nil when none could be taken.
    public func reserveAttempt(_ id: String, now: Date) async throws(StoreError) -> Int? {
        try await returningCount(
            """
            UPDATE otp_challenges SET attempts_used = attempts_used + 1 WHERE challenge_id = \(bind: id) AND state = 'pending'
            AND attempts_used < max_attempts AND expires_at > \(bind: Milliseconds.from(now)) RETURNING attempts_used AS count
            """)
    }

    /// Gives back an attempt the OTP Manager never judged (it was down).
    public func refundAttempt(_ id: String) async throws(StoreError) {
        try await execute(
            "UPDATE otp_challenges SET attempts_used = attempts_used - 1 WHERE challenge_id = \(bind: id) AND attempts_used > 0 AND state = 'pending'")
    }

    /// Takes one resend if the challenge is pending, unexpired, under `maxSends` and the last send is at least
    /// `spacing` seconds old; the new number of sends, or nil.
    public func reserveResend(_ id: String, now: Date, maxSends: Int, spacing: Double) async throws(StoreError) -> Int? {
        let nowMS = Milliseconds.from(now)
        let latest = nowMS - Int64(spacing * 1000)
        return try await returningCount(
            """
            UPDATE otp_challenges SET sends = sends + 1, last_sent_at = \(bind: nowMS) WHERE challenge_id = \(bind: id) AND state = 'pending'
            AND sends < \(bind: Int64(maxSends)) AND last_sent_at <= \(bind: latest) AND expires_at > \(bind: nowMS) RETURNING sends AS count
            """)
    }

    /// Gives back a resend whose delivery failed, with the time of the previous send (so the spacing restarts from it).
    public func refundResend(_ id: String, previousSentAt: Date) async throws(StoreError) {
        try await execute(
            """
            UPDATE otp_challenges SET sends = sends - 1, last_sent_at = \(bind: Milliseconds.from(previousSentAt))
            WHERE challenge_id = \(bind: id) AND sends > 1 AND state = 'pending'
            """)
    }

    /// Ends a pending challenge (verified or exhausted) and wipes its sealed data. True for the one caller
    /// that made the change: a code can release tokens once.
    public func finishChallenge(_ id: String, as state: OTPChallenge.State) async throws(StoreError) -> Bool {
        try await returningCount(
            """
            UPDATE otp_challenges SET state = \(bind: state.rawValue), sealed_tokens = NULL, sealed_recipient = NULL
            WHERE challenge_id = \(bind: id) AND state = 'pending' RETURNING attempts_used AS count
            """) != nil
    }

    public func deleteChallenge(_ id: String) async throws(StoreError) {
        try await execute("DELETE FROM otp_challenges WHERE challenge_id = \(bind: id)")
    }

    /// Wipes the sealed data of challenges that expired by `now`, and deletes those expired for more than
    /// `keep` seconds (until then they still answer 410 rather than 404). Returns the number deleted.
    @discardableResult
    public func purgeChallenges(now: Date, keep: Double = 3600) async throws(StoreError) -> Int {
        let nowMS = Milliseconds.from(now)
        do {
            return try await backend.transaction { db in
                try await db.raw(
                    """
                    UPDATE otp_challenges SET sealed_tokens = NULL, sealed_recipient = NULL WHERE expires_at <= \(bind: nowMS)
                    AND (sealed_tokens IS NOT NULL OR sealed_recipient IS NOT NULL)
                    """
                ).run()
                struct Row: Codable { var challenge_id: String }
                return try await db.raw(
                    "DELETE FROM otp_challenges WHERE expires_at <= \(bind: nowMS - Int64(keep * 1000)) RETURNING challenge_id"
                ).all(decoding: Row.self).count
            }
        } catch {
            throw backend.translate(error)
        }
    }

    private func execute(_ query: SQLQueryString) async throws(StoreError) {
        do {
            try await backend.transaction { db in try await db.raw(query).run() }
        } catch {
            throw backend.translate(error)
        }
    }

    private func returningCount(_ query: SQLQueryString) async throws(StoreError) -> Int? {
        struct Row: Codable { var count: Int64 }
        do {
            let rows = try await backend.transaction { db in try await db.raw(query).all(decoding: Row.self) }
            return rows.first.map { Int($0.count) }
        } catch {
            throw backend.translate(error)
        }
    }
}
