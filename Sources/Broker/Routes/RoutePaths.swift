/// Route paths named in more than one place (the router, the middleware, the fast paths, metrics labels).
enum RoutePaths {
    /// Forward-auth: the route, and its metrics label.
    static let verify = "/v1/verify"
    /// Minting through the REST API, as the router registers it.
    static let mint = "/v1/tenants/:tenantId/token"
    /// The same route as the router labels it in metrics (`{tenantId}`).
    static let mintLabel = "/v1/tenants/{tenantId}/token"
    /// The OAuth token endpoint (route and label are the same).
    static let oauthTokenLabel = "/oauth2/token"
    /// Portal login and tenant login, as metrics label them.
    static let loginLabel = "/v1/login"
    static let tenantLoginLabel = "/v1/tenants/{tenantId}/login"
}
