import Foundation
import SQLKit

/// API keys: only hashes of their secrets are stored.
extension SQLTenantStore {
    /// Stores a new key record (its secret is only ever a hash here).
    public func createAPIKey(_ record: APIKeyRecord, audit: AuditEvent) async throws(StoreError) {
        let notify = backend.isPostgres
        do {
            try await backend.transaction { db in
                try await db.raw(
                    """
                    INSERT INTO api_keys (id, name, secret_hash, scopes, tenants, created_at, revoked_at) VALUES (\(bind: record.id),
                    \(bind: record.name), \(bind: record.secretHash), \(bind: record.scopes.joined(separator: " ")),
                    \(bind: record.tenants.joined(separator: " ")), \(bind: Milliseconds.from(record.createdAt)), NULL)
                    """
                ).run()
                try await Self.insert(audit, into: db)
                if notify { try await db.raw("SELECT pg_notify(\(bind: Self.tenantChannel), \(bind: "key:" + record.id))").run() }
            }
        } catch {
            throw backend.translate(error)
        }
    }

    /// The key with `id`, revoked or not.
    public func apiKey(id: String) async throws(StoreError) -> APIKeyRecord? {
        do {
            return try await backend.read { db in
                try await db.raw("SELECT id, name, secret_hash, scopes, tenants, created_at, revoked_at FROM api_keys WHERE id = \(bind: id)")
                    .all(decoding: APIKeyRow.self).first?.record
            }
        } catch {
            throw backend.translate(error)
        }
    }

    /// Every key, oldest first.
    public func apiKeys() async throws(StoreError) -> [APIKeyRecord] {
        do {
            return try await backend.read { db in
                try await db.raw("SELECT id, name, secret_hash, scopes, tenants, created_at, revoked_at FROM api_keys ORDER BY created_at, id")
                    .all(decoding: APIKeyRow.self).map(\.record)
            }
        } catch {
            throw backend.translate(error)
        }
    }

    /// Revokes a key; `.notFound` when there is no such key.
    /// Revokes an API key. With `keepingAnAdminKey`, a revocation that would leave no active `admin` key is refused
    /// with `.lastAdminKey` (the HTTP API; the CLI may revoke the last one, for recovery). The active keys are read
    /// in the revoking transaction, locked on PostgreSQL, so two instances revoking the last two cannot both pass.
    public func revokeAPIKey(id: String, keepingAnAdminKey: Bool = false, audit: AuditEvent) async throws(StoreError) {
        let notify = backend.isPostgres
        let lock = backend.isPostgres ? " FOR UPDATE" : ""
        do {
            try await backend.transaction { db in
                struct Row: Codable { var id: String }
                guard try await !db.raw("SELECT id FROM api_keys WHERE id = \(bind: id)").all(decoding: Row.self).isEmpty else {
                    throw StoreError.notFound
                }
                if keepingAnAdminKey {
                    struct Active: Codable { var id: String; var scopes: String }
                    let active = try await db.raw(SQLQueryString("SELECT id, scopes FROM api_keys WHERE revoked_at IS NULL ORDER BY id" + lock))
                        .all(decoding: Active.self)
                    let admins = active.filter { $0.scopes.split(separator: " ").contains("admin") }
                    if admins.contains(where: { $0.id == id }), admins.count == 1 { throw StoreError.lastAdminKey }
                }
                try await db.raw("UPDATE api_keys SET revoked_at = \(bind: Milliseconds.from(audit.at)) WHERE id = \(bind: id) AND revoked_at IS NULL").run()
                try await Self.insert(audit, into: db)
                if notify { try await db.raw("SELECT pg_notify(\(bind: Self.tenantChannel), \(bind: "key:" + id))").run() }
            }
        } catch {
            throw backend.translate(error)
        }
    }
}
