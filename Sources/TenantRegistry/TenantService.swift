import Foundation
import JOSE
import Logging
import Synchronization

/// The registry's operations: validation, storage, audit and keeping the in-memory view current.
public final class TenantService: Sendable {
    public let store: SQLTenantStore
    public let directory: TenantDirectory
    /// API keys in memory, for authentication without a database round trip.
    public let apiKeys = APIKeyDirectory()
    /// Revoked token ids, checked by verification without a database round trip.
    public let revocations = RevocationList()
    /// Every tenant's subtenants, for minting and verification without a database round trip.
    public let subtenants = SubtenantDirectory()
    public let baseDomain: String
    public let clock: @Sendable () -> Date
    let logger: Logger
    /// When the last reload began (by `clock`) and how many incremental reloads followed the last full one.
    private let reloadMark = Mutex<(lastStart: Date?, incrementals: Int)>((nil, 0))

    /// How far before the previous reload's start an incremental reload looks for writes: covers writers whose
    /// clocks run behind this instance's, and writes that committed after a reload read past them.
    public static let changeLookback: TimeInterval = 300
    /// Every this many periodic reloads, one reads everything again (the safety net for a writer whose clock is
    /// off by more than `changeLookback`).
    public static let fullReloadEvery = 20

    public init(store: SQLTenantStore, directory: TenantDirectory = TenantDirectory(), baseDomain: String, logger: Logger,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.directory = directory
        self.baseDomain = baseDomain
        self.logger = logger
        self.clock = clock
    }

    /// Who asked, for the audit log.
    public struct Actor: Sendable {
        public var name: String
        public var requestId: String?
        public init(name: String, requestId: String?) {
            self.name = name
            self.requestId = requestId
        }
    }

    /// Loads every tenant, subtenant, API key and revocation into memory (start-up, SIGHUP, a reconnected
    /// listener, and every `fullReloadEvery`-th periodic reload).
    @discardableResult
    public func reloadAll() async throws(StoreError) -> ReloadReport {
        let start = clock()
        let tenants = try await store.allForView()
        directory.merge(tenants)
        let allSubtenants = try await store.allSubtenants()
        subtenants.merge(allSubtenants)
        try await reloadAPIKeys()
        try await reloadRevocations()
        reloadMark.withLock { $0 = (start, 0) }
        return ReloadReport(full: true, tenants: tenants.count, subtenants: allSubtenants.count)
    }

    /// What a reload read: tenants and subtenants, rows.
    public struct ReloadReport: Sendable, Equatable {
        /// Whether it read every tenant (otherwise only those written since the previous reload's start,
        /// less `changeLookback`).
        public let full: Bool
        public let tenants: Int
        public let subtenants: Int

        public init(full: Bool, tenants: Int, subtenants: Int) {
            self.full = full
            self.tenants = tenants
            self.subtenants = subtenants
        }
    }

    /// The periodic reload (the safety net behind NOTIFY): the tenants and subtenants written since the
    /// previous reload began, less `changeLookback`, found by the `updated_at` index, so 100k tenants with a
    /// few live changes cost a few rows every 30 s instead of the whole table; a full reload every
    /// `fullReloadEvery`-th time, or when none has happened yet. API keys and revocations are read whole (a
    /// handful of rows). Rows are never removed (deletes are logical), so what changed is all there is to merge.
    @discardableResult
    public func reloadChanges() async throws(StoreError) -> ReloadReport {
        let since: Date? = reloadMark.withLock { mark in
            guard let last = mark.lastStart, mark.incrementals + 1 < Self.fullReloadEvery else { return nil }
            return last.addingTimeInterval(-Self.changeLookback)
        }
        guard let since else { return try await reloadAll() }
        let start = clock()
        let tenants = try await store.allForView(updatedAfter: since)
        directory.merge(tenants)
        let changedSubtenants = try await store.allSubtenants(updatedAfter: since)
        subtenants.merge(changedSubtenants)
        try await reloadAPIKeys()
        try await reloadRevocations()
        reloadMark.withLock { $0 = (start, $0.incrementals + 1) }
        return ReloadReport(full: false, tenants: tenants.count, subtenants: changedSubtenants.count)
    }

    /// Reloads revoked token ids (and purges expired ones from the store and from memory).
    public func reloadRevocations() async throws(StoreError) {
        let now = clock()
        revocations.replace(with: try await store.revokedTokens(now: now))
    }

    /// Revokes a token: in memory at once on this instance, in the store for every other.
    public func revoke(jti: String, tenantId: String?, expiresAt: Double, actor: Actor) async throws(StoreError) {
        try await store.revokeToken(
            jti: jti, tenantId: tenantId, expiresAt: expiresAt,
            audit: AuditEvent(at: clock(), actor: actor.name, action: "token.revoke", tenantId: tenantId, requestId: actor.requestId))
        revocations.add(jti, expiresAt: expiresAt)
    }

    /// Reloads every API key (after a local or remote key change).
    public func reloadAPIKeys() async throws(StoreError) {
        apiKeys.replace(with: try await store.apiKeys())
    }

    /// Refreshes one tenant, or the API keys for `key:<id>`, from the store (after another instance's NOTIFY).
    public func refresh(_ tenantId: String) async {
        if tenantId.hasPrefix("jti:") {
            do { try await reloadRevocations() } catch { logger.warning("revocation reload failed", metadata: ["error": "\(error)"]) }
            return
        }
        if tenantId.hasPrefix("sub:") {
            await reloadSubtenants(of: String(tenantId.dropFirst(4)))
            return
        }
        if tenantId.hasPrefix("key:") {
            do { try await reloadAPIKeys() } catch { logger.warning("API key reload failed", metadata: ["error": "\(error)"]) }
            return
        }
        do {
            if let tenant = try await store.tenantView(tenantId) { directory.merge([tenant]) }
        } catch {
            logger.warning("tenant refresh failed", metadata: ["tenant": "\(tenantId)", "error": "\(error)"])
        }
    }

    /// The active key whose id and secret these are, or nil. The one place API keys are checked, for bearer
    /// keys and OAuth client credentials alike: constant-time comparison, a hash computed even for unknown ids
    /// (so timing says little about which ids exist), and at most one store reload per second on a miss, so a
    /// key created moments ago (CLI, another instance) works at once without letting floods reach the database.
    public func authenticateAPIKey(id: String, secret: String) async -> APIKeyRecord? {
        var record = apiKeys.activeKey(id: id)
        if record == nil, apiKeys.claimMissReload() {
            try? await reloadAPIKeys()
            record = apiKeys.activeKey(id: id)
        }
        let matches = record?.matches(secret: secret) ?? APIKeyRecord.hash(secret: secret).isEmpty
        return matches ? record : nil
    }

    /// Stores a new API key and makes it usable on this instance at once.
    public func createAPIKey(_ record: APIKeyRecord, actor: Actor) async throws(StoreError) {
        try await store.createAPIKey(
            record, audit: AuditEvent(at: record.createdAt, actor: actor.name, action: "api-key.create", tenantId: nil, requestId: actor.requestId))
        try await reloadAPIKeys()
    }

    /// Revokes an API key; it stops working on this instance at once (and on others via NOTIFY).
    /// Refused with `.lastAdminKey` when it would leave no active admin key (the CLI revokes through the store).
    public func revokeAPIKey(id: String, actor: Actor) async throws(StoreError) {
        try await store.revokeAPIKey(
            id: id, keepingAnAdminKey: true, audit: AuditEvent(at: clock(), actor: actor.name, action: "api-key.revoke", tenantId: nil, requestId: actor.requestId))
        try await reloadAPIKeys()
    }

    public func create(_ body: [String: JSONValue], actor: Actor) async throws -> Tenant {
        let now = clock()
        let tenant = try TenantRules.parseCreate(body, baseDomain: baseDomain, now: now)
        let created = try await store.create(
            tenant, audit: AuditEvent(at: now, actor: actor.name, action: "tenant.create", tenantId: tenant.tenantId, requestId: actor.requestId))
        directory.merge([created])
        return created
    }

    public func tenant(_ tenantId: String) async throws(StoreError) -> Tenant? {
        try await store.tenant(tenantId)
    }

    public func patch(_ tenantId: String, body: [String: JSONValue], ifMatch: Int?, systemAdmin: Bool, actor: Actor) async throws -> Tenant {
        let now = clock()
        let updated = try await store.update(
            tenantId, ifMatch: ifMatch,
            audit: AuditEvent(at: now, actor: actor.name, action: "tenant.update", tenantId: tenantId, requestId: actor.requestId)
        ) { current in
            guard !current.storedStatus.isGone else { throw StoreError.notFound }
            return try TenantRules.applyPatch(body, to: current, systemAdmin: systemAdmin, now: now)
        }
        directory.merge([updated])
        return updated
    }

    /// Sets the stored status (suspend, resume, logical delete). Deleted tenants cannot change again.
    public func setStatus(_ tenantId: String, to status: StoredStatus, ifMatch: Int? = nil, actor: Actor) async throws -> Tenant {
        let now = clock()
        let action: String
        switch status {
        case .active: action = "tenant.resume"
        case .suspended: action = "tenant.suspend"
        case .deleted: action = "tenant.delete"
        case .purged: throw StoreError.notDeleted
        }
        let updated = try await store.update(
            tenantId, ifMatch: ifMatch,
            audit: AuditEvent(at: now, actor: actor.name, action: action, tenantId: tenantId, requestId: actor.requestId)
        ) { current in
            guard !current.storedStatus.isGone else { throw StoreError.notFound }
            var changed = current
            changed.storedStatus = status
            changed.updatedAt = now
            if status == .deleted { changed.deletedAt = now }
            return changed
        }
        directory.merge([updated])
        if status == .deleted { try? await reloadAPIKeys() }
        return updated
    }

    /// Purges a deleted tenant (`SQLTenantStore.purge`) and brings this instance's view, keys and revocations up
    /// to date at once (the others by NOTIFY or their periodic reload).
    public func purge(_ tenantId: String, actor: Actor) async throws(StoreError) -> PurgeReport {
        let (tombstone, report) = try await store.purge(tenantId, now: clock(), actor: actor.name, requestId: actor.requestId)
        directory.merge([tombstone])
        await reloadSubtenants(of: tenantId)
        do {
            try await reloadAPIKeys()
            try await reloadRevocations()
        } catch {
            logger.warning("after a purge, keys or revocations could not be reloaded; the periodic reload will", metadata: ["error": .string("\(error)")])
        }
        logger.notice("tenant purged", metadata: ["tenant": .string(tenantId), "apiKeys": .stringConvertible(report.apiKeys)])
        return report
    }

    /// Purges every tenant deleted `retentionDays` days or more ago (audit actor `retention`), `batch` at a time;
    /// the number purged. On a shared PostgreSQL one instance at a time sweeps (an advisory lock: the others find it
    /// taken and purge nothing this time); a tenant purged meanwhile by an operator is skipped (the purge's row lock
    /// and status check let exactly one purge happen).
    @discardableResult
    public func purgeExpiredDeletions(retentionDays: Int, batch: Int = 100) async throws(StoreError) -> Int {
        guard retentionDays > 0 else { return 0 }
        let cutoff = clock().addingTimeInterval(-Double(retentionDays) * 86_400)
        let swept = try await store.withRetentionLock { () async throws(StoreError) -> Int in
            var purged = 0
            for tenantId in try await self.store.deletedTenants(before: cutoff, limit: batch) {
                do throws(StoreError) {
                    _ = try await self.purge(tenantId, actor: Actor(name: "retention", requestId: nil))
                    purged += 1
                } catch .notDeleted {
                    continue
                } catch {
                    throw error
                }
            }
            return purged
        }
        if swept == nil { logger.debug("retention: another instance is sweeping; this one waits for its next turn") }
        return swept ?? 0
    }

    // MARK: Dashboard (from the in-memory view: no database round trip)

    /// Counts by status at the service clock's now.
    public func summary() -> (total: Int, byStatus: [TenantStatus: Int]) {
        let now = clock()
        var counts = [TenantStatus: Int]()
        for status in TenantStatus.allCases { counts[status] = 0 }
        let views = directory.current.byId.values
        for view in views { counts[view.status(at: now), default: 0] += 1 }
        return (views.count, counts)
    }

    /// Tenants created per UTC month for the last `months` months, oldest first, zero-filled.
    public func newTenantsByMonth(months: Int) -> [(month: String, count: Int)] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let now = clock()
        let current = calendar.dateComponents([.year, .month], from: now)
        var keys = [String]()
        for offset in stride(from: months - 1, through: 0, by: -1) {
            let date = calendar.date(byAdding: .month, value: -offset, to: calendar.date(from: current)!)!
            let parts = calendar.dateComponents([.year, .month], from: date)
            keys.append(String(format: "%04d-%02d", parts.year!, parts.month!))
        }
        var counts = Dictionary(uniqueKeysWithValues: keys.map { ($0, 0) })
        for view in directory.current.byId.values {
            let parts = calendar.dateComponents([.year, .month], from: view.createdAt)
            let key = String(format: "%04d-%02d", parts.year!, parts.month!)
            if counts[key] != nil { counts[key]! += 1 }
        }
        return keys.map { ($0, counts[$0]!) }
    }

    /// Active tenants whose subscription ends within `days`, soonest first.
    public func upcomingExpiries(days: Int) -> [(tenantId: String, expiresAt: Date, daysLeft: Int)] {
        let now = clock()
        let horizon = now.addingTimeInterval(Double(days) * 86_400)
        return directory.current.byId.values
            .compactMap { view -> (String, Date, Int)? in
                guard view.storedStatus == .active, let expiry = view.expiresAt, expiry > now, expiry <= horizon else { return nil }
                return (view.tenantId, expiry, Int((expiry.timeIntervalSince(now) / 86_400).rounded(.up)))
            }
            .sorted { ($0.1, $0.0) < ($1.1, $1.0) }
    }
}
