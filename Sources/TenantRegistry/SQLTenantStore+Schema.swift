import Foundation
import SQLKit

/// The schema: migrations, applied in order and recorded in `schema_migrations`.
extension SQLTenantStore {
    /// Applies pending migrations. Safe when several instances start at once: PostgreSQL serialises them
    /// with a transaction-scoped advisory lock, SQLite with BEGIN IMMEDIATE.
    public func migrate() async throws(StoreError) {
        let postgres = backend.isPostgres
        let migrations = Self.migrations(postgres: postgres)
        do {
            try await backend.transaction { db in
                if postgres { try await db.raw("SELECT pg_advisory_xact_lock(7428710001)").run() }
                try await db.raw("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)").run()
                struct Row: Codable { var version: Int64 }
                let applied = Set(try await db.raw("SELECT version FROM schema_migrations").all(decoding: Row.self).map(\.version))
                for (version, statements) in migrations where !applied.contains(version) {
                    for statement in statements { try await db.raw(SQLQueryString(statement)).run() }
                    try await db.raw("INSERT INTO schema_migrations (version, applied_at) VALUES (\(bind: version), \(bind: Milliseconds.from(Date())))").run()
                }
            }
        } catch {
            throw backend.translate(error)
        }
    }

    static func migrations(postgres: Bool) -> [(Int64, [String])] {
        let serial = postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"
        return [
            (
                1,
                [
                    """
                    CREATE TABLE tenants (tenant_id TEXT PRIMARY KEY, domain TEXT NOT NULL UNIQUE, document TEXT NOT NULL,
                    client_secret TEXT, logo_type TEXT, logo_data TEXT, status TEXT NOT NULL, expires_at BIGINT,
                    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, deleted_at BIGINT, version BIGINT NOT NULL)
                    """,
                    "CREATE INDEX tenants_status ON tenants (status, expires_at)",
                    "CREATE INDEX tenants_created ON tenants (created_at)",
                    """
                    CREATE TABLE audit_events (id \(serial), at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
                    tenant_id TEXT, outcome TEXT NOT NULL, request_id TEXT)
                    """,
                    "CREATE INDEX audit_events_tenant ON audit_events (tenant_id, at)",
                    """
                    CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT NOT NULL, scopes TEXT NOT NULL,
                    tenants TEXT NOT NULL, created_at BIGINT NOT NULL, revoked_at BIGINT)
                    """,
                ]
            ),
            (
                2,
                [
                    "CREATE TABLE revoked_tokens (jti TEXT PRIMARY KEY, tenant_id TEXT, expires_at BIGINT NOT NULL, revoked_at BIGINT NOT NULL)",
                    "CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at)",
                ]
            ),
            (
                3,
                [
                    """
                    CREATE TABLE otp_challenges (challenge_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, purpose TEXT NOT NULL,
                    channel TEXT NOT NULL, masked_recipient TEXT NOT NULL, sealed_recipient TEXT, otp_id TEXT,
                    service_identifier TEXT NOT NULL, otp_manager_url TEXT NOT NULL, created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL, max_attempts BIGINT NOT NULL, attempts_used BIGINT NOT NULL,
                    sends BIGINT NOT NULL, last_sent_at BIGINT NOT NULL, state TEXT NOT NULL, sealed_tokens TEXT)
                    """,
                    "CREATE INDEX otp_challenges_expiry ON otp_challenges (expires_at)",
                ]
            ),
            (
                4,
                [
                    // Broker-wide values; `secrets_key_check` holds a known text sealed under the secrets key, so an
                    // instance started with another key is stopped at start-up, before it can fail a tenant login.
                    "CREATE TABLE broker_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
                ]
            ),
            (
                5,
                [
                    // Subtenants: one level under a tenant; `features` is a JSON object of names to booleans.
                    """
                    CREATE TABLE subtenants (tenant_id TEXT NOT NULL, subtenant_id TEXT NOT NULL, display_name TEXT, features TEXT NOT NULL,
                    status TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, deleted_at BIGINT, version BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, subtenant_id))
                    """
                ]
            ),
            (
                6,
                [
                    // Event counters shared by every instance (`takeEvent`): the key names the limit and the tenant.
                    "CREATE TABLE rate_counters (counter_key TEXT PRIMARY KEY, window_start BIGINT NOT NULL, hits BIGINT NOT NULL, expires_at BIGINT NOT NULL)",
                    "CREATE INDEX rate_counters_expiry ON rate_counters (expires_at)",
                ]
            ),
            (
                7,
                [
                    // The incremental reload reads only what changed lately (`updated_at > since`).
                    "CREATE INDEX tenants_updated ON tenants (updated_at)",
                    "CREATE INDEX subtenants_updated ON subtenants (updated_at)",
                ]
            ),
            (
                8,
                [
                    // The export pages a tenant's audit trail by id (`auditPage`).
                    "CREATE INDEX audit_events_tenant_id ON audit_events (tenant_id, id)"
                ]
            ),
            (
                9,
                [
                    // What an action counted (a purge: what it removed), as a JSON object; NULL for most events.
                    "ALTER TABLE audit_events ADD COLUMN counts TEXT"
                ]
            ),
        ]
    }
}
