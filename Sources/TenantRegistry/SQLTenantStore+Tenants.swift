import Foundation
import SQLKit

/// Tenants: create, read, update and list; every write commits with its audit record and (PostgreSQL) a NOTIFY.
extension SQLTenantStore {
    static let tenantColumns = "tenant_id, domain, document, client_secret, logo_type, logo_data, status, expires_at, created_at, updated_at, deleted_at, version"
    static let viewColumns = "tenant_id, domain, document, NULL AS client_secret, NULL AS logo_type, NULL AS logo_data, status, expires_at, created_at, updated_at, deleted_at, version"

    /// Inserts a new tenant; `.conflict` when its id or domain is taken (deleted tenants keep theirs).
    public func create(_ tenant: Tenant, audit: AuditEvent) async throws(StoreError) -> Tenant {
        let row = try self.row(tenant)
        let notify = backend.isPostgres
        do {
            try await backend.transaction { db in
                struct Existing: Codable { var tenant_id: String }
                let clash = try await db.raw(
                    "SELECT tenant_id FROM tenants WHERE tenant_id = \(bind: row.tenantId) OR domain = \(bind: row.domain)"
                ).all(decoding: Existing.self)
                if let existing = clash.first {
                    throw StoreError.conflict(existing.tenant_id == row.tenantId ? "tenantId" : "domain")
                }
                try await db.raw(
                    """
                    INSERT INTO tenants (\(unsafeRaw: Self.tenantColumns)) VALUES (\(bind: row.tenantId), \(bind: row.domain), \(bind: row.document),
                    \(bind: row.clientSecret), \(bind: row.logoType), \(bind: row.logoData), \(bind: row.status), \(bind: row.expiresAt),
                    \(bind: row.createdAt), \(bind: row.updatedAt), \(bind: row.deletedAt), \(bind: row.version))
                    """
                ).run()
                try await Self.insert(audit, into: db)
                if notify { try await db.raw("SELECT pg_notify(\(bind: Self.tenantChannel), \(bind: row.tenantId))").run() }
            }
            return tenant
        } catch {
            throw backend.translate(error)
        }
    }

    /// Inserts many new tenants in one transaction (imports, benchmarks), with one audit record per tenant.
    /// All or nothing: a clash with an existing id or domain rolls the whole batch back.
    public func createMany(_ tenants: [Tenant], actor: String) async throws(StoreError) {
        var sealedRows: [StoredTenantRow] = []
        for tenant in tenants { sealedRows.append(try row(tenant)) }
        let rows = sealedRows
        do {
            try await backend.transaction { db in
                for row in rows {
                    try await db.raw(
                        """
                        INSERT INTO tenants (\(unsafeRaw: Self.tenantColumns)) VALUES (\(bind: row.tenantId), \(bind: row.domain), \(bind: row.document),
                        \(bind: row.clientSecret), \(bind: row.logoType), \(bind: row.logoData), \(bind: row.status), \(bind: row.expiresAt),
                        \(bind: row.createdAt), \(bind: row.updatedAt), \(bind: row.deletedAt), \(bind: row.version))
                        """
                    ).run()
                    try await Self.insert(
                        AuditEvent(at: Date(timeIntervalSince1970: Double(row.createdAt) / 1000), actor: actor, action: "tenant.create",
                                   tenantId: row.tenantId, requestId: nil), into: db)
                }
            }
        } catch {
            throw backend.translate(error)
        }
    }

    /// The tenant with `tenantId` as the in-memory directory holds it: no client secret, no logo (so nothing is
    /// opened); nil when there is none.
    public func tenantView(_ tenantId: String) async throws(StoreError) -> Tenant? {
        do {
            let rows = try await backend.read { db in
                try await db.raw("SELECT \(unsafeRaw: Self.viewColumns) FROM tenants WHERE tenant_id = \(bind: tenantId)")
                    .all(decoding: StoredTenantRow.self)
            }
            return try rows.first.map(decode)
        } catch {
            throw backend.translate(error)
        }
    }

    /// The tenant with `tenantId`, deleted ones included; nil when there is none.
    public func tenant(_ tenantId: String) async throws(StoreError) -> Tenant? {
        do {
            let rows = try await backend.read { db in
                try await db.raw("SELECT \(unsafeRaw: Self.tenantColumns) FROM tenants WHERE tenant_id = \(bind: tenantId)")
                    .all(decoding: StoredTenantRow.self)
            }
            return try rows.first.map(decode)
        } catch {
            throw backend.translate(error)
        }
    }

    /// Reads, changes and writes one tenant in a transaction. `change` may throw (e.g. a validation failure),
    /// which rolls back and is rethrown as is. `ifMatch` makes it an optimistic write: `.versionMismatch` if stale.
    public func update(
        _ tenantId: String, ifMatch: Int?, audit: AuditEvent, change: @Sendable @escaping (Tenant) throws -> Tenant
    ) async throws -> Tenant {
        let notify = backend.isPostgres
        let postgres = backend.isPostgres
        do {
            return try await backend.transaction { db in
                let lock = postgres ? " FOR UPDATE" : ""
                let rows = try await db.raw(
                    "SELECT \(unsafeRaw: Self.tenantColumns) FROM tenants WHERE tenant_id = \(bind: tenantId)\(unsafeRaw: lock)"
                ).all(decoding: StoredTenantRow.self)
                guard let currentRow = rows.first else { throw StoreError.notFound }
                let current = try self.decode(currentRow)
                if let ifMatch, ifMatch != current.version { throw StoreError.versionMismatch }
                var updated = try change(current)
                updated.tenantId = current.tenantId
                updated.version = current.version + 1
                let row = try self.row(updated, replacing: (current, currentRow))
                try await db.raw(
                    """
                    UPDATE tenants SET domain = \(bind: row.domain), document = \(bind: row.document), client_secret = \(bind: row.clientSecret),
                    logo_type = \(bind: row.logoType), logo_data = \(bind: row.logoData), status = \(bind: row.status),
                    expires_at = \(bind: row.expiresAt), updated_at = \(bind: row.updatedAt), deleted_at = \(bind: row.deletedAt),
                    version = \(bind: row.version) WHERE tenant_id = \(bind: tenantId) AND version = \(bind: Int64(current.version))
                    """
                ).run()
                try await Self.insert(audit, into: db)
                if updated.storedStatus == .deleted, current.storedStatus != .deleted {
                    // The tenant's own keys (every entry the tenant or one of its subtenants, not admin keys) die with it.
                    let keys = try await db.raw(
                        "SELECT id, name, secret_hash, scopes, tenants, created_at, revoked_at FROM api_keys WHERE revoked_at IS NULL ORDER BY id\(unsafeRaw: lock)"
                    ).all(decoding: APIKeyRow.self).map(\.record).filter { $0.isLimited(to: tenantId) }
                    for key in keys {
                        try await db.raw("UPDATE api_keys SET revoked_at = \(bind: Milliseconds.from(audit.at)) WHERE id = \(bind: key.id)").run()
                    }
                    if notify { try await db.raw("SELECT pg_notify(\(bind: Self.tenantChannel), 'key:*')").run() }
                }
                if notify { try await db.raw("SELECT pg_notify(\(bind: Self.tenantChannel), \(bind: tenantId))").run() }
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

    /// One page of tenants ordered by id, filtered by status at `now`.
    /// With `only`, just those tenant ids (a caller limited to some tenants), filtered in SQL.
    /// With `updatedAfter`, only tenants written after that time (the incremental reload).
    public func list(
        status: TenantStatus?, limit: Int, after cursor: String?, only: Set<String>? = nil, updatedAfter: Date? = nil, now: Date
    ) async throws(StoreError) -> [Tenant] {
        if let only, only.isEmpty { return [] }
        let nowMS = Milliseconds.from(now)
        do {
            let rows = try await backend.read { db in
                var query = SQLQueryString("SELECT \(unsafeRaw: Self.viewColumns) FROM tenants WHERE 1 = 1")
                switch status {
                case .active?: query.appendInterpolation(unsafeRaw: " AND status = 'active' AND (expires_at IS NULL OR expires_at > \(nowMS))")
                case .expired?: query.appendInterpolation(unsafeRaw: " AND status = 'active' AND expires_at IS NOT NULL AND expires_at <= \(nowMS)")
                case .suspended?: query.appendInterpolation(unsafeRaw: " AND status = 'suspended'")
                case .deleted?: query.appendInterpolation(unsafeRaw: " AND status = 'deleted'")
                case .purged?: query.appendInterpolation(unsafeRaw: " AND status = 'purged'")
                case nil: break
                }
                if let cursor {
                    query.appendLiteral(" AND tenant_id > ")
                    query.appendInterpolation(bind: cursor)
                }
                if let updatedAfter {
                    query.appendLiteral(" AND updated_at > ")
                    query.appendInterpolation(bind: Milliseconds.from(updatedAfter))
                }
                if let only {
                    query.appendLiteral(" AND tenant_id IN (")
                    for (index, id) in only.sorted().enumerated() {
                        if index > 0 { query.appendLiteral(", ") }
                        query.appendInterpolation(bind: id)
                    }
                    query.appendLiteral(")")
                }
                query.appendInterpolation(unsafeRaw: " ORDER BY tenant_id LIMIT \(limit)")
                return try await db.raw(query).all(decoding: StoredTenantRow.self)
            }
            return try rows.map(decode)
        } catch {
            throw backend.translate(error)
        }
    }

    /// Every tenant without logo or secret: the source of the in-memory view (start-up and periodic reload).
    ///
    /// Read in pages of `pageSize` tenants by id (keyset: `tenant_id > last ORDER BY tenant_id`), each page one
    /// operation under the store's deadline. One `SELECT` of them all was one operation too, and at 100k
    /// tenants on a slow spell of the benchmark host reading it took 2.3 s from SQLite and 3.5 s from
    /// PostgreSQL, near the 5 s meant to catch an unreachable database: a larger registry could never be loaded,
    /// and the broker would not have started. The pages are not one snapshot of the table: a tenant written
    /// while they are read may come back at its older version, or (if created with an id already passed) not
    /// at all in this read. Rows are never removed (delete is logical) and the view merges by version, so
    /// nothing older replaces anything newer, and the write reaches the view as every write does: at once on
    /// the instance that made it, by NOTIFY on the others, at the latest by the next periodic reload.
    ///
    /// With `updatedAfter`, only the tenants written after that time (by the writer's clock): the incremental
    /// reload, which reads what changed in the last minutes instead of the whole table.
    public func allForView(updatedAfter: Date? = nil, pageSize: Int = 5_000) async throws(StoreError) -> [Tenant] {
        precondition(pageSize > 0, "pageSize must be positive")
        var tenants = [Tenant]()
        var cursor: String?
        while true {
            // No status filter, so `now` is not used.
            let page = try await list(status: nil, limit: pageSize, after: cursor, updatedAfter: updatedAfter, now: Date())
            tenants += page
            guard page.count == pageSize, let last = page.last else { return tenants }
            cursor = last.tenantId
        }
    }
}
