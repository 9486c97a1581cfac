import TenantRegistry

/// Who is calling, as established by an authenticator. Authorisation decisions live in `AccessPolicy`.
public struct CallerIdentity: Sendable, Equatable {
    /// For audit records: `api-key:<id>`.
    public var subject: String
    /// A human name for the caller (the API key's name): the `sub` of tokens minted for it.
    public var name: String
    /// The OAuth client id: `tbk_<id>` for API keys.
    public var clientId: String
    public var isSystemAdmin: Bool
    public var scopes: Set<String>
    /// Tenant ids this caller may act for, each with all its subtenants; nil means every tenant.
    public var tenants: Set<String>?
    /// Subtenants this caller may act for, by tenant id, where it may not act for the whole tenant (an API key's
    /// `t1/sub1` entries). Such a caller sees the tenant, but acts only for those subtenants.
    public var subtenantGrants: [String: Set<String>] = [:]
    /// Roles the caller's own token carried (Keycloak or cx-tenant), for token exchange.
    public var roles: [String] = []
    /// The identity provider's subject (`sub`), when the caller came with a token.
    public var subjectId: String?
    /// The caller came with a token of its tenant (a cx-tenant token, or an access token of the tenant's realm).
    public var isTenantToken = false

    /// Whether the caller may see `tenantId` at all (others are invisible: 404, never 403): the whole tenant, or
    /// some of its subtenants.
    public func canSee(_ tenantId: String) -> Bool {
        isSystemAdmin || tenants == nil || tenants!.contains(tenantId) || (!subtenantGrants.isEmpty && subtenantGrants[tenantId] != nil)
    }

    /// Whether the caller may act for subtenant `subtenantId` of `tenantId` (nil: for the tenant itself).
    public func mayActFor(_ tenantId: String, subtenant subtenantId: String?) -> Bool {
        if isSystemAdmin || tenants == nil || tenants!.contains(tenantId) { return true }
        guard let subtenantId else { return false }
        return subtenantGrants[tenantId]?.contains(subtenantId) == true
    }

    /// Tenant ids this caller may see (whole or through subtenants); nil means every tenant.
    public var visibleTenants: Set<String>? {
        guard !isSystemAdmin, let tenants else { return nil }
        return tenants.union(subtenantGrants.keys)
    }

    package init(
        subject: String, name: String, clientId: String, isSystemAdmin: Bool, scopes: Set<String>, tenants: Set<String>?, roles: [String] = [],
        subjectId: String? = nil
    ) {
        self.roles = roles
        self.subjectId = subjectId
        self.subject = subject
        self.name = name
        self.clientId = clientId
        self.isSystemAdmin = isSystemAdmin
        self.scopes = scopes
        self.tenants = tenants
    }

    package init(apiKey: APIKeyRecord) {
        subject = "api-key:\(apiKey.id)"
        name = apiKey.name
        clientId = "tbk_\(apiKey.id)"
        isSystemAdmin = apiKey.isAdmin
        scopes = Set(apiKey.scopes)
        if apiKey.tenants.contains("*") {
            tenants = nil
        } else {
            var whole = Set<String>()
            for entry in apiKey.tenants {
                if let slash = entry.firstIndex(of: "/") {
                    subtenantGrants[String(entry[..<slash]), default: []].insert(String(entry[entry.index(after: slash)...]))
                } else {
                    whole.insert(entry)
                }
            }
            tenants = whole
        }
    }

    /// A tenant admin's scopes: what a token of a tenant (Keycloak tenant realm or cx-tenant) with the
    /// `tenant-admin` role may do for its own tenant; other roles give none.
    package static func tenantScopes<Roles: Sequence<String>>(roles: Roles) -> Set<String> {
        roles.contains(KeycloakCallerVerifier.tenantAdminRole) ? ["tenants:read", "tenants:write"] : []
    }

    /// The caller a verified cx-tenant token stands for (for `/v1` calls made with a cx-tenant token).
    package init(cxToken verified: VerifiedCXToken) {
        self.init(
            subject: "cx-token:\(verified.subject)", name: verified.subject, clientId: verified.clientId, isSystemAdmin: false,
            scopes: Self.tenantScopes(roles: verified.roles), tenants: verified.subtenantId == nil ? [verified.tenantId] : [])
        // A subtenant's token acts for that subtenant only.
        if let subtenantId = verified.subtenantId { subtenantGrants = [verified.tenantId: [subtenantId]] }
        isTenantToken = true
    }
}
