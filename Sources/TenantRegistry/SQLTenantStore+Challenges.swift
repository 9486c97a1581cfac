import Foundation
import SQLKit

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
