import Foundation
import Logging
import ServiceLifecycle
import SQLKit

/// The tenant registry's store on SQLite or PostgreSQL. All SQL is written once with SQLKit binds;
/// every change and its audit record commit in one transaction.
public final class SQLTenantStore: Service, Sendable {
    let backend: SQLBackend
    let logger: Logger
    /// NOTIFY channel other instances LISTEN on (PostgreSQL): tenant ids, or `key:<id>` for API key changes.
    public static let tenantChannel = "token_broker_tenants"

    /// Where this store lives, safe to log.
    public let location: DatabaseLocation
    /// Seals tenant client secrets on their way in and opens them on their way out.
    public let sealer: SecretSealer

    private init(backend: SQLBackend, location: DatabaseLocation, sealer: SecretSealer, logger: Logger) {
        self.backend = backend
        self.location = location
        self.sealer = sealer
        self.logger = logger
    }

    /// Opens the database (creating an SQLite file and its directory when needed); a PostgreSQL pool starts
    /// running at once. Call `close()` when done. `sealer` seals and opens tenant client secrets; one without
    /// keys (commands that never touch tenants) makes every write or read of a secret fail.
    public static func open(_ location: DatabaseLocation, sealer: SecretSealer, logger: Logger) async throws(StoreError) -> SQLTenantStore {
        do {
            return SQLTenantStore(
                backend: try await SQLBackend.open(location, logger: logger), location: location, sealer: sealer, logger: logger)
        } catch {
            throw .unavailable("cannot open \(location): \(error)")
        }
    }

    /// Whether other instances may share this store (and changes arrive by NOTIFY).
    public var isShared: Bool { backend.isPostgres }

    /// Waits for graceful shutdown, then closes the store (so it closes after the services that use it).
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Closes the connection (SQLite) or stops the pool (PostgreSQL).
    public func close() async {
        await backend.close()
    }

    // MARK: Schema

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
        ]
    }

    /// Succeeds when the database answers a trivial query.
    public func ping() async throws(StoreError) {
        do {
            try await backend.read { db in try await db.raw("SELECT 1").run() }
        } catch {
            throw backend.translate(error)
        }
    }

    // MARK: Tenants

    static let tenantColumns = "tenant_id, domain, document, client_secret, logo_type, logo_data, status, expires_at, created_at, updated_at, deleted_at, version"
    static let viewColumns = "tenant_id, domain, document, NULL AS client_secret, NULL AS logo_type, NULL AS logo_data, status, expires_at, created_at, updated_at, deleted_at, version"

    /// What the record id of a tenant's sealed client secret is (its associated data).
    static func secretRecord(_ tenantId: String) -> String { "tenants/\(tenantId)/keycloak.clientSecret" }

    /// The row for `tenant`, its client secret sealed. `current`: the row being replaced, whose sealed secret is
    /// kept byte for byte when the secret did not change (no new nonce, no write of a secret nobody sent).
    func row(_ tenant: Tenant, replacing current: (tenant: Tenant, row: StoredTenantRow)? = nil) throws(StoreError) -> StoredTenantRow {
        var row = StoredTenantRow(tenant)
        guard let secret = row.clientSecret else { return row }
        if let current, current.tenant.keycloak.clientSecret == secret, let sealed = current.row.clientSecret, SecretSealer.isSealed(sealed) {
            row.clientSecret = sealed
            return row
        }
        do {
            row.clientSecret = try sealer.seal(secret, record: Self.secretRecord(tenant.tenantId))
        } catch {
            throw .unavailable("no secrets key: this process cannot store tenant secrets")
        }
        return row
    }

    /// The tenant of a full row, its client secret opened. A row written before secrets were sealed holds it in
    /// plaintext until `sealSecrets` runs (at start-up): it is read as is.
    func decode(_ row: StoredTenantRow) throws -> Tenant {
        var row = row
        if let stored = row.clientSecret, SecretSealer.isSealed(stored) {
            do {
                row.clientSecret = try sealer.open(stored, record: Self.secretRecord(row.tenantId))
            } catch {
                logger.error(
                    "a tenant's client secret cannot be opened; every instance needs the same --secrets-key",
                    metadata: ["tenant": .string(row.tenantId), "reason": .string(error.description)])
                throw StoreError.corrupt("tenant \(row.tenantId): client secret: \(error.description)")
            }
        }
        return try TenantCodec.decode(row: row)
    }

    static let keyCheckRecord = "broker_settings/secrets_key_check"
    static let keyCheckText = "token-broker secrets key check"

    /// Seals every client secret still stored in plaintext (rows from before sealing) and seals again, under the
    /// sealing key, those sealed under an older one (rotation), in one transaction; run at start-up. Throws
    /// `.corrupt` when the store was sealed under a key the sealer does not hold (nothing changes): every
    /// instance of one store needs the same secrets key, and one without it stops here, not at a tenant login.
    public func sealSecrets() async throws(StoreError) -> (sealed: Int, resealed: Int) {
        guard let current = sealer.currentKeyId else { return (0, 0) }
        let lock = backend.isPostgres ? " FOR UPDATE" : ""
        let sealer = self.sealer
        do {
            return try await backend.transaction { db in
                struct Setting: Codable { var value: String }
                if let check = try await db.raw(
                    "SELECT value FROM broker_settings WHERE name = 'secrets_key_check'\(unsafeRaw: lock)"
                ).all(decoding: Setting.self).first?.value {
                    do throws(SecretSealer.SealingError) {
                        guard try sealer.open(check, record: Self.keyCheckRecord) == Self.keyCheckText else { throw .cannotOpen }
                    } catch {
                        throw StoreError.corrupt(
                            "this store's secrets are sealed under secrets key \(SecretSealer.keyId(of: check) ?? "?"), which this instance does not have "
                                + "(its key: \(current)); give every instance the same --secrets-key (or secrets.key file)")
                    }
                    if SecretSealer.keyId(of: check) != current {
                        try await db.raw("UPDATE broker_settings SET value = \(bind: try sealer.seal(Self.keyCheckText, record: Self.keyCheckRecord)) WHERE name = 'secrets_key_check'").run()
                    }
                } else {
                    try await db.raw(
                        "INSERT INTO broker_settings (name, value) VALUES ('secrets_key_check', \(bind: try sealer.seal(Self.keyCheckText, record: Self.keyCheckRecord)))"
                    ).run()
                }
                struct Row: Codable { var tenant_id: String; var client_secret: String }
                let rows = try await db.raw(
                    """
                    SELECT tenant_id, client_secret FROM tenants WHERE client_secret IS NOT NULL
                    AND client_secret NOT LIKE \(bind: SecretSealer.prefix + current + ":%")\(unsafeRaw: lock)
                    """
                ).all(decoding: Row.self)
                var counts = (sealed: 0, resealed: 0)
                for row in rows {
                    let record = Self.secretRecord(row.tenant_id)
                    let plain: String
                    if SecretSealer.isSealed(row.client_secret) {
                        do throws(SecretSealer.SealingError) {
                            plain = try sealer.open(row.client_secret, record: record)
                        } catch {
                            throw StoreError.corrupt("tenant \(row.tenant_id): client secret: \(error.description)")
                        }
                        counts.resealed += 1
                    } else {
                        plain = row.client_secret
                        counts.sealed += 1
                    }
                    let sealed = try sealer.seal(plain, record: record)
                    try await db.raw("UPDATE tenants SET client_secret = \(bind: sealed) WHERE tenant_id = \(bind: row.tenant_id)").run()
                }
                return counts
            }
        } catch {
            throw backend.translate(error)
        }
    }

    /// The client secret column as stored (sealed, or plaintext from before sealing); for tests and diagnostics.
    func storedClientSecret(_ tenantId: String) async throws -> String? {
        struct Row: Codable { var client_secret: String? }
        return try await backend.read { db in
            try await db.raw("SELECT client_secret FROM tenants WHERE tenant_id = \(bind: tenantId)").all(decoding: Row.self)
        }.first?.client_secret
    }

    /// Overwrites the stored client secret column as is (tests: rows from before sealing, values moved between rows).
    func overwriteStoredClientSecret(_ tenantId: String, _ value: String?) async throws {
        try await backend.transaction { db in
            try await db.raw("UPDATE tenants SET client_secret = \(bind: value) WHERE tenant_id = \(bind: tenantId)").run()
        }
    }

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
                    // Keys limited to this tenant alone die with it.
                    try await db.raw(
                        "UPDATE api_keys SET revoked_at = \(bind: Milliseconds.from(audit.at)) WHERE tenants = \(bind: tenantId) AND revoked_at IS NULL"
                    ).run()
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
    public func list(status: TenantStatus?, limit: Int, after cursor: String?, only: Set<String>? = nil, now: Date) async throws(StoreError) -> [Tenant] {
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
                case nil: break
                }
                if let cursor {
                    query.appendLiteral(" AND tenant_id > ")
                    query.appendInterpolation(bind: cursor)
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
    public func allForView(pageSize: Int = 5_000) async throws(StoreError) -> [Tenant] {
        precondition(pageSize > 0, "pageSize must be positive")
        var tenants = [Tenant]()
        var cursor: String?
        while true {
            // No status filter, so `now` is not used.
            let page = try await list(status: nil, limit: pageSize, after: cursor, now: Date())
            tenants += page
            guard page.count == pageSize, let last = page.last else { return tenants }
            cursor = last.tenantId
        }
    }

    // MARK: Audit

    static func insert(_ event: AuditEvent, into db: any SQLDatabase) async throws {
        try await db.raw(
            """
            INSERT INTO audit_events (at, actor, action, tenant_id, outcome, request_id) VALUES (\(bind: Milliseconds.from(event.at)),
            \(bind: event.actor), \(bind: event.action), \(bind: event.tenantId), \(bind: event.outcome), \(bind: event.requestId))
            """
        ).run()
    }

    /// Records an event that has no other write (a failed attempt, a login).
    public func append(_ event: AuditEvent) async throws(StoreError) {
        do {
            try await backend.transaction { db in try await Self.insert(event, into: db) }
        } catch {
            throw backend.translate(error)
        }
    }

    /// Audit events, oldest first.
    public func audit(tenantId: String?, since: Date?, limit: Int) async throws(StoreError) -> [AuditEvent] {
        do {
            let rows = try await backend.read { db in
                var query = SQLQueryString("SELECT at, actor, action, tenant_id, outcome, request_id FROM audit_events WHERE 1 = 1")
                if let tenantId {
                    query.appendLiteral(" AND tenant_id = ")
                    query.appendInterpolation(bind: tenantId)
                }
                if let since {
                    query.appendLiteral(" AND at >= ")
                    query.appendInterpolation(bind: Milliseconds.from(since))
                }
                query.appendInterpolation(unsafeRaw: " ORDER BY at, id LIMIT \(limit)")
                return try await db.raw(query).all(decoding: AuditRow.self)
            }
            return rows.map(\.event)
        } catch {
            throw backend.translate(error)
        }
    }

    // MARK: API keys

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

    // MARK: Revoked tokens

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

    /// Calls `onChange` with the tenant id of every change another instance commits (PostgreSQL), until cancelled.
    public func listenForChanges(_ onChange: @Sendable @escaping (String) async -> Void) async throws {
        try await backend.listen(channel: Self.tenantChannel, onNotification: onChange)
    }
}
