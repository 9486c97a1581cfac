import TenantRegistry

/// Every authorisation rule in one place, as pure decisions on a `CallerIdentity`: the `/v1` routes, the
/// OAuth endpoints and the fast paths all ask here. A tenant the caller may not see is reported as unknown.
package enum AccessPolicy {
    /// The scope a caller needs to mint cx-tenant tokens.
    package static let mintScope = "token:mint"
    /// The scope a caller needs to introspect (and, for its tenants, revoke) tokens.
    package static let introspectScope = "token:introspect"
    /// The scope a caller needs to use the OTP proxy.
    package static let otpScope = "otp"

    /// The caller, known: 401 without one.
    package static func authenticated(_ caller: CallerIdentity?) throws(AccessDenial) -> CallerIdentity {
        guard let caller else { throw .unauthenticated }
        return caller
    }

    /// A caller acting on `tenantId` with `scope` (system admins hold every scope). `subtenantLevel`: the action may
    /// name a subtenant (minting), so a caller limited to some subtenants passes here and is checked when it names
    /// one; otherwise such a caller is refused (403: it may see the tenant, not act for all of it).
    package static func tenantScope(_ caller: CallerIdentity?, tenantId: String, scope: String, subtenantLevel: Bool = false) throws(AccessDenial)
        -> CallerIdentity
    {
        let caller = try authenticated(caller)
        guard TenantRules.isValidTenantId(tenantId), caller.canSee(tenantId) else { throw .tenantNotFound }
        guard has(caller, scope), subtenantLevel || caller.mayActFor(tenantId, subtenant: nil) else { throw .forbidden }
        return caller
    }

    /// A caller acting on subtenant `subtenantId` of `tenantId` with `scope`: 404 for a subtenant it may not see.
    package static func subtenantScope(_ caller: CallerIdentity?, tenantId: String, subtenantId: String, scope: String) throws(AccessDenial)
        -> CallerIdentity
    {
        let caller = try authenticated(caller)
        guard TenantRules.isValidTenantId(tenantId), caller.canSee(tenantId) else { throw .tenantNotFound }
        guard caller.mayActFor(tenantId, subtenant: subtenantId) else { throw .subtenantNotFound }
        guard has(caller, scope) else { throw .forbidden }
        return caller
    }

    /// System administrators only (tenant lifecycle, API keys, dashboard).
    package static func systemAdmin(_ caller: CallerIdentity?) throws(AccessDenial) -> CallerIdentity {
        let caller = try authenticated(caller)
        guard caller.isSystemAdmin else { throw .forbidden }
        return caller
    }

    /// Reading one tenant: admins, or callers limited to it with `tenants:read` (or `tenants:write`).
    package static func tenantRead(_ caller: CallerIdentity?, tenantId: String) throws(AccessDenial) -> CallerIdentity {
        let caller = try authenticated(caller)
        guard caller.canSee(tenantId) else { throw .tenantNotFound }
        guard mayRead(caller), caller.mayActFor(tenantId, subtenant: nil) else { throw .forbidden }
        return caller
    }

    /// Changing one tenant's updatable fields: admins, or callers limited to it with `tenants:write`.
    package static func tenantWrite(_ caller: CallerIdentity?, tenantId: String) throws(AccessDenial) -> CallerIdentity {
        let caller = try authenticated(caller)
        guard caller.canSee(tenantId) else { throw .tenantNotFound }
        guard has(caller, "tenants:write"), caller.mayActFor(tenantId, subtenant: nil) else { throw .forbidden }
        return caller
    }

    /// Reading one subtenant: readers of the whole tenant, or callers limited to that subtenant, with `tenants:read`
    /// (or `tenants:write`); 404 for a subtenant the caller may not see.
    package static func subtenantRead(_ caller: CallerIdentity?, tenantId: String, subtenantId: String) throws(AccessDenial) -> CallerIdentity {
        let caller = try authenticated(caller)
        guard caller.canSee(tenantId) else { throw .tenantNotFound }
        guard caller.mayActFor(tenantId, subtenant: subtenantId) else { throw .subtenantNotFound }
        guard mayRead(caller) else { throw .forbidden }
        return caller
    }

    /// Reading a tenant's effective features (of the tenant, or of `subtenantId`): its readers, and any token of
    /// that tenant (its services ask what is switched on).
    package static func featuresRead(_ caller: CallerIdentity?, tenantId: String, subtenantId: String?) throws(AccessDenial) -> CallerIdentity {
        let caller = try authenticated(caller)
        guard caller.canSee(tenantId) else { throw .tenantNotFound }
        guard caller.mayActFor(tenantId, subtenant: subtenantId) else { throw subtenantId == nil ? .forbidden : .subtenantNotFound }
        guard mayRead(caller) || caller.isTenantToken else { throw .forbidden }
        return caller
    }

    /// Status changes (suspend, resume, delete): system admins; others that can see the tenant get 403.
    package static func tenantAdmin(_ caller: CallerIdentity?, tenantId: String) throws(AccessDenial) -> CallerIdentity {
        let caller = try authenticated(caller)
        guard caller.canSee(tenantId) else { throw .tenantNotFound }
        guard caller.isSystemAdmin else { throw .forbidden }
        return caller
    }

    /// Listing tenants and reading audit: admins see everything; `tenants:read` callers see their tenants.
    package static func listing(_ caller: CallerIdentity?) throws(AccessDenial) -> CallerIdentity {
        let caller = try authenticated(caller)
        guard mayRead(caller) else { throw .forbidden }
        return caller
    }

    /// PATCH of a tenant that is not active: system admins only. A suspended or expired tenant's own admins and
    /// keys cannot change its settings (its OTP Manager, its 2FA rules) until a system admin resumes it.
    package static func writable(_ caller: CallerIdentity, status: TenantStatus?) throws(AccessDenial) {
        if let status, status != .active, !caller.isSystemAdmin { throw .tenantInactive(status) }
    }

    /// Whether `caller` may mint at all (client_credentials, master-realm token exchange); the tenant is checked when minting.
    package static func mayMint(_ caller: CallerIdentity) -> Bool { has(caller, mintScope) }

    /// Whether `caller` may introspect tokens (RFC 7662).
    package static func mayIntrospect(_ caller: CallerIdentity) -> Bool { has(caller, introspectScope) }

    /// Whether `caller` may revoke a token issued to `clientId` for `tenantId` (RFC 7009): the client it was issued
    /// to, system admins, and introspecting callers of its tenant.
    package static func mayRevoke(_ caller: CallerIdentity, tokenTenant tenantId: String?, tokenSubtenant subtenantId: String?, tokenClient clientId: String?)
        -> Bool
    {
        caller.isSystemAdmin || clientId == caller.clientId
            || (caller.scopes.contains(introspectScope) && tenantId.map { maySeeToken(caller, tenantId: $0, subtenantId: subtenantId) } == true)
    }

    /// Whether a token of `tenantId` (and `subtenantId`) is visible to `caller` at introspection: a caller limited
    /// to some subtenants sees only their tokens, not the tenant's own nor other subtenants'.
    package static func maySeeToken(_ caller: CallerIdentity, tenantId: String, subtenantId: String?) -> Bool {
        caller.mayActFor(tenantId, subtenant: subtenantId)
    }

    private static func has(_ caller: CallerIdentity, _ scope: String) -> Bool {
        caller.isSystemAdmin || caller.scopes.contains(scope)
    }

    private static func mayRead(_ caller: CallerIdentity) -> Bool {
        caller.isSystemAdmin || caller.scopes.contains("tenants:read") || caller.scopes.contains("tenants:write")
    }
}
