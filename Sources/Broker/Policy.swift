import TenantRegistry
import HTTPTypes
import Hummingbird

/// Every authorisation rule of the `/v1` API in one place. Handlers call one of these before acting.
enum Policy {
    /// The caller of a `/v1/tenants/{tenantId}/...` route that needs `scope` (or a system admin), with the
    /// tenant id: 401 without credentials, 404 for a tenant the caller may not see, 403 without the scope.
    static func tenantCaller(_ context: BrokerRequestContext, scope: String) throws -> (caller: CallerIdentity, tenantId: String) {
        let caller = try requireCaller(context)
        let tenantId = context.parameters.get("tenantId") ?? ""
        guard TenantRules.isValidTenantId(tenantId), caller.canSee(tenantId) else { throw tenantNotFound }
        guard caller.isSystemAdmin || caller.scopes.contains(scope) else { throw forbidden }
        return (caller, tenantId)
    }

    static func requireCaller(_ context: BrokerRequestContext) throws -> CallerIdentity {
        guard let caller = context.caller else {
            throw Problem(
                .unauthorized, code: "unauthorized", detail: "credentials are missing or invalid",
                headers: [.wwwAuthenticate: "Bearer realm=\"token-broker\""])
        }
        return caller
    }

    /// System administrators only (tenant lifecycle, API keys, dashboard).
    static func requireSystemAdmin(_ context: BrokerRequestContext) throws -> CallerIdentity {
        let caller = try requireCaller(context)
        guard caller.isSystemAdmin else { throw forbidden }
        return caller
    }

    /// Reading one tenant: admins, or callers limited to it with `tenants:read` (or `tenants:write`).
    /// A caller that may not see the tenant gets the same 404 as for an unknown tenant.
    static func requireTenantRead(_ context: BrokerRequestContext, tenantId: String) throws -> CallerIdentity {
        let caller = try requireCaller(context)
        guard caller.canSee(tenantId) else { throw tenantNotFound }
        guard caller.isSystemAdmin || caller.scopes.contains("tenants:read") || caller.scopes.contains("tenants:write") else {
            throw forbidden
        }
        return caller
    }

    /// Changing one tenant's updatable fields: admins, or callers limited to it with `tenants:write`.
    static func requireTenantWrite(_ context: BrokerRequestContext, tenantId: String) throws -> CallerIdentity {
        let caller = try requireCaller(context)
        guard caller.canSee(tenantId) else { throw tenantNotFound }
        guard caller.isSystemAdmin || caller.scopes.contains("tenants:write") else { throw forbidden }
        return caller
    }

    /// Status changes (suspend, resume, delete): system admins; others that can see the tenant get 403.
    static func requireTenantAdmin(_ context: BrokerRequestContext, tenantId: String) throws -> CallerIdentity {
        let caller = try requireCaller(context)
        guard caller.canSee(tenantId) else { throw tenantNotFound }
        guard caller.isSystemAdmin else { throw forbidden }
        return caller
    }

    /// Listing tenants and reading audit: admins see everything; `tenants:read` callers see their tenants.
    static func requireListing(_ context: BrokerRequestContext) throws -> CallerIdentity {
        let caller = try requireCaller(context)
        guard caller.isSystemAdmin || caller.scopes.contains("tenants:read") || caller.scopes.contains("tenants:write") else {
            throw forbidden
        }
        return caller
    }

    static let forbidden = Problem(.forbidden, code: "forbidden", detail: "these credentials do not allow this action")
    static let tenantNotFound = Problem(.notFound, code: "tenant_not_found", detail: "no such tenant")

    /// 403 `tenant_inactive`: the tenant is suspended, expired or deleted.
    static func tenantInactive(_ status: TenantStatus) -> Problem {
        Problem(.forbidden, code: "tenant_inactive", detail: "the tenant is \(status.rawValue)")
    }

    /// PATCH of a tenant that is not active: system admins only. A suspended or expired tenant's own admins and
    /// keys cannot change its settings (its OTP Manager, its 2FA rules) until a system admin resumes it.
    static func requireWritable(_ caller: CallerIdentity, status: TenantStatus?) throws {
        if let status, status != .active, !caller.isSystemAdmin { throw tenantInactive(status) }
    }
}
