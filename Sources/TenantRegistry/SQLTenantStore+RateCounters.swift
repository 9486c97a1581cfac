import Foundation
import SQLKit

/// Counters of events in fixed windows (OTP sends per tenant, tenant logins per tenant), kept in the store so
/// that every instance on one PostgreSQL counts against the same number: one row per key, incremented by one
/// atomic upsert. Used only where an event costs something anyway (an SMS, a call to Keycloak), never on the
/// path of a mint or a verification.
extension SQLTenantStore {
    /// Counts one event under `key` in the `window`-second window that holds `now` (windows start at multiples
    /// of `window` since 1970); the count in that window, this event included, and when the window ends.
    public func countEvent(_ key: String, window: Int, now: Date) async throws(StoreError) -> (count: Int, windowEnds: Date) {
        let span = Int64(max(1, window)) * 1000
        let at = Milliseconds.from(now)
        let start = at - at % span
        do {
            let count = try await backend.transaction { db in
                struct Row: Codable { var hits: Int64 }
                let rows = try await db.raw(
                    """
                    INSERT INTO rate_counters (counter_key, window_start, hits, expires_at) VALUES (\(bind: key), \(bind: start), 1, \(bind: start + span))
                    ON CONFLICT (counter_key) DO UPDATE SET
                    hits = CASE WHEN rate_counters.window_start = excluded.window_start THEN rate_counters.hits + 1 ELSE 1 END,
                    window_start = excluded.window_start, expires_at = excluded.expires_at
                    RETURNING hits
                    """
                ).all(decoding: Row.self)
                let hits = Int(rows.first?.hits ?? 1)
                // A new window for this key: now and then, drop every counter whose window has ended.
                if hits == 1, Int.random(in: 0..<64) == 0 {
                    try await db.raw("DELETE FROM rate_counters WHERE expires_at <= \(bind: at)").run()
                }
                return hits
            }
            return (count, Date(timeIntervalSince1970: Double(start + span) / 1000))
        } catch {
            throw backend.translate(error)
        }
    }
}
