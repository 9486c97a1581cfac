import Foundation
import SQLKit

/// Subtenants: create, read, update and list; every write commits with its audit record and (PostgreSQL) a
/// NOTIFY `sub:<tenantId>`, on which other instances reload that tenant's subtenants.
extension SQLTenantStore {
    static let subtenantColumns = "tenant_id, subtenant_id, display_name, features, status, created_at, updated_at, deleted_at, version"

    /// Inserts a new subtenant of an existing, not deleted tenant: `.notFound` without one, `.conflict("subtenantId")`
    /// when the id is taken within the tenant (deleted subtenants keep theirs).
    public func createSubtenant(_ subtenant: Subtenant, audit: AuditEvent) async throws(StoreError) -> Subtenant {
        let row = SubtenantRow(subtenant)
        let notify = backend.isPostgres
        do {
            try await backend.transaction { db in
                struct Existing: Codable { var status: String }
                let parent = try await db.raw("SELECT status FROM tenants WHERE tenant_id = \(bind: row.tenant_id)").all(decoding: Existing.self)
                guard let parent = parent.first, parent.status != StoredStatus.deleted.rawValue, parent.status != StoredStatus.purged.rawValue else { throw StoreError.notFound }
                let clash = try await db.raw(
                    "SELECT status FROM subtenants WHERE tenant_id = \(bind: row.tenant_id) AND subtenant_id = \(bind: row.subtenant_id)"
                ).all(decoding: Existing.self)
                if !clash.isEmpty { throw StoreError.conflict("subtenantId") }
                try await db.raw(
                    """
                    INSERT INTO subtenants (\(unsafeRaw: Self.subtenantColumns)) VALUES (\(bind: row.tenant_id), \(bind: row.subtenant_id),
                    \(bind: row.display_name), \(bind: row.features), \(bind: row.status), \(bind: row.created_at), \(bind: row.updated_at),
                    \(bind: row.deleted_at), \(bind: row.version))
                    """
                ).run()
                try await Self.insert(audit, into: db)
                if notify { try await db.raw("SELECT pg_notify(\(bind: Self.tenantChannel), \(bind: "sub:" + row.tenant_id))").run() }
            }
            return subtenant
        } catch let error as StoreError {
            throw error
        } catch {
            throw backend.translate(error)
        }
    }

    /// Inserts many subtenants in one transaction, without audit records (benchmarks and imports of existing data).
    public func createSubtenants(_ subtenants: [Subtenant]) async throws(StoreError) {
        let rows = subtenants.map(SubtenantRow.init)
        do {
            try await backend.transaction { db in
                for row in rows {
                    try await db.raw(
                        """
                        INSERT INTO subtenants (\(unsafeRaw: Self.subtenantColumns)) VALUES (\(bind: row.tenant_id), \(bind: row.subtenant_id),
                        \(bind: row.display_name), \(bind: row.features), \(bind: row.status), \(bind: row.created_at), \(bind: row.updated_at),
                        \(bind: row.deleted_at), \(bind: row.version))
                        """
                    ).run()
                }
            }
        } catch {
            throw backend.translate(error)
        }
    }

    /// The tenant's subtenants, deleted ones included, by id.
    public func subtenants(of tenantId: String) async throws(StoreError) -> [Subtenant] {
        let rows: [SubtenantRow]
        do {
            rows = try await backend.read { db in
                try await db.raw("SELECT \(unsafeRaw: Self.subtenantColumns) FROM subtenants WHERE tenant_id = \(bind: tenantId) ORDER BY subtenant_id")
                    .all(decoding: SubtenantRow.self)
            }
        } catch {
            throw backend.translate(error)
        }
        return try rows.map { row throws(StoreError) in try row.subtenant() }
    }

    /// Every subtenant, read in pages of `pageSize` by (tenant, subtenant): the source of the in-memory directory.
    /// With `updatedAfter`, only those written after that time (the incremental reload).
    public func allSubtenants(updatedAfter: Date? = nil, pageSize: Int = 5_000) async throws(StoreError) -> [Subtenant] {
        let since = updatedAfter.map(Milliseconds.from)
        var all = [Subtenant]()
        var cursor: (String, String)?
        while true {
            let page: [SubtenantRow]
            do {
                page = try await backend.read { [cursor] db in
                    var query = SQLQueryString("SELECT \(unsafeRaw: Self.subtenantColumns) FROM subtenants WHERE 1 = 1")
                    if let since {
                        query.appendLiteral(" AND updated_at > ")
                        query.appendInterpolation(bind: since)
                    }
                    if let (tenant, subtenant) = cursor {
                        query.appendLiteral(" AND (tenant_id > ")
                        query.appendInterpolation(bind: tenant)
                        query.appendLiteral(" OR (tenant_id = ")
                        query.appendInterpolation(bind: tenant)
                        query.appendLiteral(" AND subtenant_id > ")
                        query.appendInterpolation(bind: subtenant)
                        query.appendLiteral("))")
                    }
                    query.appendInterpolation(unsafeRaw: " ORDER BY tenant_id, subtenant_id LIMIT \(pageSize)")
                    return try await db.raw(query).all(decoding: SubtenantRow.self)
                }
            } catch {
                throw backend.translate(error)
            }
            for row in page { all.append(try row.subtenant()) }
            guard page.count == pageSize, let last = page.last else { return all }
            cursor = (last.tenant_id, last.subtenant_id)
        }
    }

    /// Reads, changes and writes one subtenant in a transaction (`.subtenantNotFound` without one; `.versionMismatch`
    /// for a stale `ifMatch`). `change` may throw a validation failure, which rolls back and is rethrown as is.
    public func updateSubtenant(
        _ tenantId: String, _ subtenantId: String, ifMatch: Int?, audit: AuditEvent, change: @Sendable @escaping (Subtenant) throws -> Subtenant
    ) async throws -> Subtenant {
        let notify = backend.isPostgres
        let lock = backend.isPostgres ? " FOR UPDATE" : ""
        do {
            return try await backend.transaction { db in
                let rows = try await db.raw(
                    """
                    SELECT \(unsafeRaw: Self.subtenantColumns) FROM subtenants WHERE tenant_id = \(bind: tenantId)
                    AND subtenant_id = \(bind: subtenantId)\(unsafeRaw: lock)
                    """
                ).all(decoding: SubtenantRow.self)
                guard let current = try rows.first?.subtenant(), current.storedStatus != .deleted else { throw StoreError.subtenantNotFound }
                if let ifMatch, ifMatch != current.version { throw StoreError.versionMismatch }
                var updated = try change(current)
                updated.tenantId = current.tenantId
                updated.subtenantId = current.subtenantId
                updated.version = current.version + 1
                let row = SubtenantRow(updated)
                try await db.raw(
                    """
                    UPDATE subtenants SET display_name = \(bind: row.display_name), features = \(bind: row.features), status = \(bind: row.status),
                    updated_at = \(bind: row.updated_at), deleted_at = \(bind: row.deleted_at), version = \(bind: row.version)
                    WHERE tenant_id = \(bind: tenantId) AND subtenant_id = \(bind: subtenantId) AND version = \(bind: Int64(current.version))
                    """
                ).run()
                try await Self.insert(audit, into: db)
                if updated.storedStatus == .deleted {
                    // Keys limited to this subtenant alone die with it.
                    try await db.raw(
                        """
                        UPDATE api_keys SET revoked_at = \(bind: Milliseconds.from(audit.at)) WHERE tenants = \(bind: tenantId + "/" + subtenantId)
                        AND revoked_at IS NULL
                        """
                    ).run()
                    if notify { try await db.raw("SELECT pg_notify(\(bind: Self.tenantChannel), 'key:*')").run() }
                }
                if notify { try await db.raw("SELECT pg_notify(\(bind: Self.tenantChannel), \(bind: "sub:" + tenantId))").run() }
                return updated
            }
        } catch let error as StoreError {
            throw error
        } catch let error as ValidationFailure {
            throw error
        } catch {
            throw backend.translate(error)
        }
    }
}
