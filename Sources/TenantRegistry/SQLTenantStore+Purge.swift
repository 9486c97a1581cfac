import Foundation
import SQLKit

/// What a purge removed.
public struct PurgeReport: Sendable, Equatable {
    /// API keys limited to the tenant or its subtenants: revoked (if they were not) and their hashes wiped.
    public var apiKeys = 0
    /// OTP challenges of the tenant, deleted.
    public var challenges = 0
    /// Revocation entries of the tenant's tokens, deleted (its tokens fail anyway: the tenant is gone).
    public var revocations = 0
    /// Subtenants, marked deleted with their display names and features wiped (their ids stay, as the trail's).
    public var subtenants = 0
    /// Rate counters of the tenant (OTP sends, logins, its users' login attempts), deleted.
    public var counters = 0

    public init() {}

    /// The report by name, as the answer and the audit event's `counts` show it.
    public var counts: [String: Int] {
        ["apiKeys": apiKeys, "challenges": challenges, "revocations": revocations, "subtenants": subtenants, "counters": counters]
    }
}

/// Deprovisioning: the purge of a deleted tenant, in one transaction.
extension SQLTenantStore {
    /// Purges deleted tenant `tenantId` in one transaction, so a purge cut short (kill -9, a lost connection)
    /// leaves either the whole deleted tenant or the tombstone, never half: the client secret, logo, campaigns,
    /// dialer and media configuration, 2FA settings, features and limits are wiped from the row, which stays as a
    /// tombstone (id, domain, realm and client id, status `purged`, timestamps) so neither the id nor the domain is
    /// ever reused; the API keys limited to it or its subtenants are revoked and their hashes wiped; its OTP
    /// challenges, revocation entries and rate counters are deleted; the audit trail is kept and gains
    /// `tenant.purged` with the counts. `.notFound` without the tenant, `.notDeleted` unless it is deleted.
    public func purge(_ tenantId: String, now: Date, actor: String, requestId: String?) async throws(StoreError) -> (Tenant, PurgeReport) {
        let result = try await purgeTransaction(tenantId, now: now, actor: actor, requestId: requestId)
        if !backend.isPostgres {
            // The old row's pages are still in the WAL until a checkpoint: copy them home and truncate the WAL, so the
            // purged bytes are gone from disk now (with secure_delete, the database file's freed space is zeroed).
            struct Checkpoint: Codable { var busy: Int64 }
            do {
                let busy = try await backend.read { db in try await db.raw("PRAGMA wal_checkpoint(TRUNCATE)").all(decoding: Checkpoint.self).first?.busy ?? 0 }
                if busy != 0 { logger.warning("purge: the WAL checkpoint could not complete (busy); the next automatic one removes the purged pages") }
            } catch {
                logger.warning("purge: the WAL checkpoint failed; the next automatic one removes the purged pages", metadata: ["error": .string("\(error)")])
            }
        }
        return result
    }

    private func purgeTransaction(_ tenantId: String, now: Date, actor: String, requestId: String?) async throws(StoreError) -> (Tenant, PurgeReport) {
        let notify = backend.isPostgres
        let lock = backend.isPostgres ? " FOR UPDATE" : ""
        let at = Milliseconds.from(now)
        do {
            return try await backend.transaction { db in
                let rows = try await db.raw("SELECT \(unsafeRaw: Self.tenantColumns) FROM tenants WHERE tenant_id = \(bind: tenantId)\(unsafeRaw: lock)")
                    .all(decoding: StoredTenantRow.self)
                guard let currentRow = rows.first else { throw StoreError.notFound }
                let current = try self.decode(currentRow)
                guard current.storedStatus == .deleted else { throw StoreError.notDeleted }
                var tombstone = current
                tombstone.keycloak.clientSecret = nil
                tombstone.keycloak.otpManagerURL = nil
                tombstone.campaigns = [:]
                tombstone.dialer = [:]
                tombstone.mediaServer = nil
                tombstone.twoFA = TwoFAConfig(isEnabled: false)
                tombstone.logo = nil
                tombstone.features = [:]
                tombstone.limits = TenantLimits()
                tombstone.storedStatus = .purged
                tombstone.updatedAt = now
                tombstone.version = current.version + 1
                let row = try self.row(tombstone)
                try await db.raw(
                    """
                    UPDATE tenants SET document = \(bind: row.document), client_secret = NULL, logo_type = NULL, logo_data = NULL,
                    status = \(bind: row.status), updated_at = \(bind: row.updatedAt), version = \(bind: row.version)
                    WHERE tenant_id = \(bind: tenantId) AND version = \(bind: Int64(current.version))
                    """
                ).run()
                var report = PurgeReport()
                // The tenant's own keys, as the export names them: every entry the tenant or one of its subtenants.
                let keys = try await db.raw(
                    "SELECT id, name, secret_hash, scopes, tenants, created_at, revoked_at FROM api_keys WHERE secret_hash <> '-' ORDER BY id\(unsafeRaw: lock)"
                ).all(decoding: APIKeyRow.self).map(\.record).filter { $0.isLimited(to: tenantId) }
                for key in keys {
                    try await db.raw(
                        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, \(bind: at)), secret_hash = '-' WHERE id = \(bind: key.id)"
                    ).run()
                }
                report.apiKeys = keys.count
                struct Challenge: Codable { var challenge_id: String }
                report.challenges = try await db.raw("DELETE FROM otp_challenges WHERE tenant_id = \(bind: tenantId) RETURNING challenge_id")
                    .all(decoding: Challenge.self).count
                struct Revoked: Codable { var jti: String }
                report.revocations = try await db.raw("DELETE FROM revoked_tokens WHERE tenant_id = \(bind: tenantId) RETURNING jti")
                    .all(decoding: Revoked.self).count
                struct Counter: Codable { var counter_key: String }
                report.counters = try await db.raw(
                    """
                    DELETE FROM rate_counters WHERE counter_key = \(bind: "otp:" + tenantId) OR counter_key = \(bind: "login:" + tenantId)
                    OR counter_key LIKE \(bind: "lf:u:" + tenantId + ":%") RETURNING counter_key
                    """
                ).all(decoding: Counter.self).count
                // Subtenants stay as tombstones too (deleted, their names and features wiped): their ids are the trail's.
                struct Sub: Codable { var subtenant_id: String }
                report.subtenants = try await db.raw(
                    """
                    UPDATE subtenants SET status = 'deleted', display_name = NULL, features = '{}', deleted_at = COALESCE(deleted_at, \(bind: at)),
                    updated_at = \(bind: at), version = version + 1 WHERE tenant_id = \(bind: tenantId) RETURNING subtenant_id
                    """
                ).all(decoding: Sub.self).count
                try await Self.insert(
                    AuditEvent(at: now, actor: actor, action: "tenant.purged", tenantId: tenantId, requestId: requestId, counts: report.counts), into: db)
                if notify {
                    try await db.raw("SELECT pg_notify(\(bind: Self.tenantChannel), \(bind: tenantId))").run()
                    try await db.raw("SELECT pg_notify(\(bind: Self.tenantChannel), 'key:*')").run()
                    try await db.raw("SELECT pg_notify(\(bind: Self.tenantChannel), 'jti:*')").run()
                    try await db.raw("SELECT pg_notify(\(bind: Self.tenantChannel), \(bind: "sub:" + tenantId))").run()
                }
                return (tombstone, report)
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw backend.translate(error)
        }
    }
}

extension SQLTenantStore {
    private struct LockRow: Codable { var locked: Bool }

    /// The advisory lock one retention sweep at a time holds on a shared PostgreSQL (the migrations' is 7428710001).
    static let retentionLock: Int64 = 7_428_710_002

    /// Runs `body` holding the retention sweep's lock and returns its result, or nil without running it when another
    /// instance holds the lock. On PostgreSQL the lock is a transaction-scoped advisory lock taken with
    /// `pg_try_advisory_xact_lock` on a connection of its own (the purges inside use others), so it is released
    /// whatever happens to the sweep: its end, an error, a lost connection, or kill -9. SQLite has one process per
    /// file: `body` just runs. `limit` bounds the sweep (10 minutes by default: the lock's transaction stays open).
    public func withRetentionLock<T: Sendable>(
        limit: Duration = .seconds(600), _ body: @Sendable @escaping () async throws(StoreError) -> T
    ) async throws(StoreError) -> T? {
        guard backend.isPostgres else { return try await body() }
        do {
            return try await backend.transaction(deadline: limit) { db in
                let locked = try await db.raw("SELECT pg_try_advisory_xact_lock(\(bind: Self.retentionLock)) AS locked").all(decoding: LockRow.self)
                guard locked.first?.locked == true else { return nil }
                return try await body()
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw backend.translate(error)
        }
    }

    /// The ids of tenants deleted at or before `cutoff` and not yet purged, oldest deletion first, at most `limit`.
    public func deletedTenants(before cutoff: Date, limit: Int) async throws(StoreError) -> [String] {
        struct Row: Codable { var tenant_id: String }
        do {
            return try await backend.read { db in
                try await db.raw(
                    """
                    SELECT tenant_id FROM tenants WHERE status = 'deleted' AND deleted_at IS NOT NULL AND deleted_at <= \(bind: Milliseconds.from(cutoff))
                    ORDER BY deleted_at, tenant_id LIMIT \(unsafeRaw: String(max(1, limit)))
                    """
                ).all(decoding: Row.self).map(\.tenant_id)
            }
        } catch {
            throw backend.translate(error)
        }
    }
}
