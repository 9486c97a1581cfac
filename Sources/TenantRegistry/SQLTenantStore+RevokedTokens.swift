import Foundation
import SQLKit

/// Revoked tokens, kept until they expire.
extension SQLTenantStore {
    /// Records a revoked token until it expires, with its audit event; other instances hear `jti:<jti>`.
    public func revokeToken(jti: String, tenantId: String?, expiresAt: Double, audit: AuditEvent) async throws(StoreError) {
        let notify = backend.isPostgres
        let expires = Int64(expiresAt * 1000)
        do {
            try await backend.transaction { db in
                struct Row: Codable { var jti: String }
                let existing = try await db.raw("SELECT jti FROM revoked_tokens WHERE jti = \(bind: jti)").all(decoding: Row.self)
                guard existing.isEmpty else { return }
                try await db.raw(
                    "INSERT INTO revoked_tokens (jti, tenant_id, expires_at, revoked_at) VALUES (\(bind: jti), \(bind: tenantId), \(bind: expires), \(bind: Milliseconds.from(audit.at)))"
                ).run()
                try await Self.insert(audit, into: db)
                if notify { try await db.raw("SELECT pg_notify(\(bind: Self.tenantChannel), \(bind: "jti:" + jti))").run() }
            }
        } catch {
            throw backend.translate(error)
        }
    }

    /// Revoked tokens that have not expired by `now`, and deletes the ones that have.
    public func revokedTokens(now: Date) async throws(StoreError) -> [(jti: String, expiresAt: Double)] {
        let cutoff = Milliseconds.from(now)
        do {
            return try await backend.transaction { db in
                try await db.raw("DELETE FROM revoked_tokens WHERE expires_at <= \(bind: cutoff)").run()
                struct Row: Codable { var jti: String; var expires_at: Int64 }
                return try await db.raw("SELECT jti, expires_at FROM revoked_tokens").all(decoding: Row.self)
                    .map { (jti: $0.jti, expiresAt: Double($0.expires_at) / 1000) }
            }
        } catch {
            throw backend.translate(error)
        }
    }
}
