import Foundation

extension TenantService {
    /// A page of tenants in id order after `cursor`, `only` those ids when given (callers limited to some tenants).
    public func list(status: TenantStatus?, limit: Int, after cursor: String?, only: Set<String>?, now: Date) async throws(StoreError) -> [Tenant] {
        try await store.list(status: status, limit: limit, after: cursor, only: only, now: now)
    }

    /// Audit events, newest first.
    public func audit(tenantId: String?, since: Date?, limit: Int) async throws(StoreError) -> [AuditEvent] {
        try await store.audit(tenantId: tenantId, since: since, limit: limit)
    }

    /// Every API key, revoked ones included (never their secrets).
    public func apiKeys() async throws(StoreError) -> [APIKeyRecord] {
        try await store.apiKeys()
    }
}
