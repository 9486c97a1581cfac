import TenantRegistry

/// Who is calling, as established by an authenticator. Authorisation decisions live in `Policy`.
public struct CallerIdentity: Sendable, Equatable {
    /// For audit records: `api-key:<id>`.
    public var subject: String
    /// A human name for the caller (the API key's name): the `sub` of tokens minted for it.
    public var name: String
    /// The OAuth client id: `tbk_<id>` for API keys.
    public var clientId: String
    public var isSystemAdmin: Bool
    public var scopes: Set<String>
    /// Tenant ids this caller may act for; nil means every tenant.
    public var tenants: Set<String>?
    /// Roles the caller's own token carried (Keycloak or cx-tenant), for token exchange.
    public var roles: [String] = []
    /// The identity provider's subject (`sub`), when the caller came with a token.
    public var subjectId: String?

    /// Whether the caller may see `tenantId` at all (others are invisible: 404, never 403).
    public func canSee(_ tenantId: String) -> Bool {
        isSystemAdmin || tenants == nil || tenants!.contains(tenantId)
    }

    init(
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

    init(apiKey: APIKeyRecord) {
        subject = "api-key:\(apiKey.id)"
        name = apiKey.name
        clientId = "tbk_\(apiKey.id)"
        isSystemAdmin = apiKey.isAdmin
        scopes = Set(apiKey.scopes)
        tenants = apiKey.tenants.contains("*") ? nil : Set(apiKey.tenants)
    }
}
