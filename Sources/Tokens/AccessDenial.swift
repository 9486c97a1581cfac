import TenantRegistry

/// Why a caller may not do what it asked; the HTTP layer maps each case to one status and problem code.
package enum AccessDenial: Error, Equatable, Sendable {
    /// No credentials, or credentials that are not valid (401).
    case unauthenticated
    /// The tenant does not exist or the caller may not see it (404: the two look alike).
    case tenantNotFound
    /// The subtenant does not exist or the caller may not see it (404).
    case subtenantNotFound
    /// The caller is known and may see the tenant, but lacks the scope or role (403).
    case forbidden
    /// The tenant is suspended, expired or deleted (403 `tenant_inactive`).
    case tenantInactive(TenantStatus)
}
