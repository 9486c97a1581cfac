import Foundation
import SQLKit

/// What a counted event left of its window's quota.
public struct EventQuota: Sendable, Equatable {
    /// Whether the event was counted (false: the window's quota was already used up, nothing was written).
    public let taken: Bool
    /// Events allowed per window.
    public let limit: Int
    /// Events still allowed in this window after this one.
    public let remaining: Int
    /// When the window ends (the quota is whole again).
    public let windowEnds: Date

    public init(taken: Bool, limit: Int, remaining: Int, windowEnds: Date) {
        self.taken = taken
        self.limit = limit
        self.remaining = remaining
        self.windowEnds = windowEnds
    }

    /// Whole seconds from `now` until the window ends, at least 1.
    public func secondsLeft(from now: Date) -> Int { max(1, Int(windowEnds.timeIntervalSince(now).rounded(.up))) }
}

/// Counters of events in windows (OTP sends and logins per tenant, login attempts per user and address), kept in
/// the store so that every instance on one PostgreSQL counts against the same number: one row per key, taken by
/// one conditional atomic upsert. Used only where an event costs something anyway (an SMS, a call to Keycloak),
/// never on the path of a mint or a verification.
///
/// Windows are fixed and begin at a key's first event after the previous window ended; times are the calling
/// instance's clock, so instances sharing a store should keep their clocks in step (NTP): a skew of s seconds
/// moves a window's end by up to s, never the count.
extension SQLTenantStore {
    /// A counter's row as the statements below return it.
    struct CounterRow: Codable, Sendable {
        var hits: Int64
        var expires_at: Int64
    }

    /// Takes one event under `key` if its window has room for it: at most `limit` events are taken per window
    /// of `window` seconds, by every instance on the store together. A refused event writes nothing, so a
    /// flood past the limit costs one locked read per request, not a write.
    public func takeEvent(_ key: String, limit: Int, window: Int, now: Date) async throws(StoreError) -> EventQuota {
        let span = Int64(max(1, window)) * 1000
        let at = Milliseconds.from(now)
        let cap = Int64(max(1, limit))
        do {
            return try await backend.transaction { db in
                // The update happens only while the window has room or has ended; otherwise no row comes back.
                let taken = try await db.raw(
                    """
                    INSERT INTO rate_counters (counter_key, window_start, hits, expires_at) VALUES (\(bind: key), \(bind: at), 1, \(bind: at + span))
                    ON CONFLICT (counter_key) DO UPDATE SET
                    hits = CASE WHEN rate_counters.expires_at > excluded.window_start THEN rate_counters.hits + 1 ELSE 1 END,
                    window_start = CASE WHEN rate_counters.expires_at > excluded.window_start THEN rate_counters.window_start ELSE excluded.window_start END,
                    expires_at = CASE WHEN rate_counters.expires_at > excluded.window_start THEN rate_counters.expires_at ELSE excluded.expires_at END
                    WHERE rate_counters.hits < \(bind: cap) OR rate_counters.expires_at <= excluded.window_start
                    RETURNING hits, expires_at
                    """
                ).all(decoding: CounterRow.self).first
                if let taken {
                    return EventQuota(
                        taken: true, limit: Int(cap), remaining: Int(max(0, cap - taken.hits)), windowEnds: Milliseconds.date(taken.expires_at))
                }
                let row = try await db.raw("SELECT hits, expires_at FROM rate_counters WHERE counter_key = \(bind: key)")
                    .all(decoding: CounterRow.self).first
                return EventQuota(taken: false, limit: Int(cap), remaining: 0, windowEnds: Milliseconds.date(row?.expires_at ?? at + span))
            }
        } catch {
            throw backend.translate(error)
        }
    }

    /// Gives back one event taken under `key` (the event did not happen after all: the upstream was never asked,
    /// or did not judge it). Only the window it was taken in is touched (`quota.windowEnds`): once that has
    /// ended, there is nothing to give back.
    public func giveBackEvent(_ key: String, _ quota: EventQuota) async throws(StoreError) {
        guard quota.taken else { return }
        let ends = Milliseconds.from(quota.windowEnds)
        do {
            try await backend.transaction { db in
                try await db.raw("UPDATE rate_counters SET hits = hits - 1 WHERE counter_key = \(bind: key) AND hits > 0 AND expires_at = \(bind: ends)")
                    .run()
            }
        } catch {
            throw backend.translate(error)
        }
    }

    /// When `key`'s window open at `now` already holds `limit` events: the refusal's quota (not taken, nothing
    /// left, the window's end), read without a write; nil when an event could still be taken. The read before
    /// `takeEvent` that lets a flood of refusals cost no writes.
    public func fullWindow(_ key: String, limit: Int, now: Date) async throws(StoreError) -> EventQuota? {
        let at = Milliseconds.from(now)
        do {
            let row = try await backend.read { db in
                try await db.raw("SELECT hits, expires_at FROM rate_counters WHERE counter_key = \(bind: key) AND expires_at > \(bind: at)")
                    .all(decoding: CounterRow.self).first
            }
            guard let row, row.hits >= Int64(limit) else { return nil }
            return EventQuota(taken: false, limit: limit, remaining: 0, windowEnds: Milliseconds.date(row.expires_at))
        } catch {
            throw backend.translate(error)
        }
    }

    /// Forgets the count under `key`.
    public func clearEvents(_ key: String) async throws(StoreError) {
        do {
            try await backend.transaction { db in try await db.raw("DELETE FROM rate_counters WHERE counter_key = \(bind: key)").run() }
        } catch {
            throw backend.translate(error)
        }
    }

    /// Deletes every counter whose window ended by `now` (the periodic purge; never on a request's path).
    @discardableResult
    public func purgeCounters(now: Date) async throws(StoreError) -> Int {
        do {
            return try await backend.transaction { db in
                struct Row: Codable { var counter_key: String }
                return try await db.raw("DELETE FROM rate_counters WHERE expires_at <= \(bind: Milliseconds.from(now)) RETURNING counter_key")
                    .all(decoding: Row.self).count
            }
        } catch {
            throw backend.translate(error)
        }
    }
}
