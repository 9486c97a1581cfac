import Foundation
import SQLKit

/// Counters of events in windows (OTP sends and logins per tenant, failed logins per user and address), kept in the store so
/// that every instance on one PostgreSQL counts against the same number: one row per key, incremented by one
/// atomic upsert. Used only where an event costs something anyway (an SMS, a call to Keycloak), never on the
/// path of a mint or a verification.
extension SQLTenantStore {
    /// A counter's row as the statements below return it.
    struct CounterRow: Codable, Sendable {
        var hits: Int64
        var expires_at: Int64
    }

    /// Counts one event under `key` in its window: a window of `window` seconds begins at the first event
    /// counted after the previous one ended. The count in the window, this event included, and when it ends.
    public func countEvent(_ key: String, window: Int, now: Date) async throws(StoreError) -> (count: Int, windowEnds: Date) {
        let span = Int64(max(1, window)) * 1000
        let at = Milliseconds.from(now)
        do {
            let row = try await backend.transaction { db in
                let rows = try await db.raw(
                    """
                    INSERT INTO rate_counters (counter_key, window_start, hits, expires_at) VALUES (\(bind: key), \(bind: at), 1, \(bind: at + span))
                    ON CONFLICT (counter_key) DO UPDATE SET
                    hits = CASE WHEN rate_counters.expires_at > excluded.window_start THEN rate_counters.hits + 1 ELSE 1 END,
                    window_start = CASE WHEN rate_counters.expires_at > excluded.window_start THEN rate_counters.window_start ELSE excluded.window_start END,
                    expires_at = CASE WHEN rate_counters.expires_at > excluded.window_start THEN rate_counters.expires_at ELSE excluded.expires_at END
                    RETURNING hits, expires_at
                    """
                ).all(decoding: CounterRow.self)
                let row = rows.first ?? CounterRow(hits: 1, expires_at: at + span)
                // A new window for this key: now and then, drop every counter whose window has ended.
                if row.hits == 1, Int.random(in: 0..<64) == 0 {
                    try await db.raw("DELETE FROM rate_counters WHERE expires_at <= \(bind: at)").run()
                }
                return row
            }
            return (Int(row.hits), Date(timeIntervalSince1970: Double(row.expires_at) / 1000))
        } catch {
            throw backend.translate(error)
        }
    }

    /// The count under `key` in its current window and when that ends, or nil when no window is open at `now`.
    public func eventCount(_ key: String, now: Date) async throws(StoreError) -> (count: Int, windowEnds: Date)? {
        let at = Milliseconds.from(now)
        do {
            return try await backend.transaction { db in
                let rows = try await db.raw("SELECT hits, expires_at FROM rate_counters WHERE counter_key = \(bind: key) AND expires_at > \(bind: at)")
                    .all(decoding: CounterRow.self)
                return rows.first.map { (Int($0.hits), Date(timeIntervalSince1970: Double($0.expires_at) / 1000)) }
            }
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
}
