import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import NIOCore
import TenantRegistry
import Tokens

/// Minting: `POST /v1/tenants/{tenantId}/token` (problem errors) and `POST /oauth2/token` (OAuth errors):
/// client_credentials and RFC 8693 token exchange.
struct TokenRoutes: Sendable {
    let mint: MintV1
    let authentication: CallerAuthentication

    var issuer: TokenIssuer { mint.issuer }

    func addRoutes(to router: Router<BrokerRequestContext>) {
        router.post(RouterPath(RoutePaths.mint)) { request, context in try await mintV1(request, context) }
        router.post("/oauth2/token") { request, context in try await oauthToken(request, context) }
    }

    func mintV1(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let tenantId = context.parameters.get("tenantId") ?? ""
        // A caller limited to some subtenants gets this far; the subtenant its body names is checked when minting.
        let caller = try AccessPolicy.tenantScope(context.caller, tenantId: tenantId, scope: AccessPolicy.mintScope, subtenantLevel: true)
        let body = request.headers[.contentLength] == "0" ? [] : try await RequestBody.bytes(request)
        let answer = try mint.answer(caller: caller, tenantId: tenantId, body: body)
        return Response(status: answer.status, headers: answer.headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    func oauthToken(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let form = try await FormBody.parse(request)
        guard let grant = form["grant_type"] else { throw OAuthFailure.invalidRequest("grant_type is required") }
        if grant == Self.tokenExchange { return try await exchange(form) }
        guard grant == "client_credentials" else { throw OAuthFailure.unsupportedGrantType("supported: client_credentials, \(Self.tokenExchange)") }
        let caller = try await authentication.client(request, form: form)
        guard AccessPolicy.mayMint(caller) else { throw OAuthFailure.grantNotAllowed("this client may not mint tokens") }
        var tenantId = form["tenant"]
        var domain: String?
        if let resource = form["resource"] {
            guard let url = URL(string: resource), url.scheme == "https", let host = url.host, url.path.isEmpty || url.path == "/" else {
                throw OAuthFailure.invalidTarget(Self.notAllowedForClient)
            }
            if tenantId != nil { throw OAuthFailure.invalidRequest("send tenant or resource, not both") }
            domain = host.lowercased()
        }
        guard tenantId != nil || domain != nil else { throw OAuthFailure.invalidRequest("tenant or resource is required") }
        if let id = tenantId, !TenantRules.isValidTenantId(id) { tenantId = nil; domain = "" }
        let scope = form["scope"].map { $0.split(separator: " ").map(String.init) }
        // An id that cannot exist is as unknown as one that does not.
        let subtenant = form["subtenant"].map { TenantRules.isValidTenantId($0) ? $0 : "-" }
        let minted: TokenIssuer.Minted
        do {
            minted = try issuer.mint(
                caller: caller, tenantId: tenantId, domain: domain, audience: nil, scope: scope, roles: nil, ttl: nil, subtenant: subtenant)
        } catch {
            if case .rateLimited(let decision) = error { throw rateLimited(decision, route: RoutePaths.oauthTokenLabel, tenant: tenantId) }
            // Unknown, not allowed and inactive tenants look alike to the client (RFC 8707).
            throw OAuthFailure.invalidTarget(Self.notAllowedForClient)
        }
        mint.metrics.recordMint(endpoint: "oauth2", tenant: mint.runtime.metricsTenantLabel(minted.tenant.tenantId))
        return JSONResponse.make(
            .object([
                "access_token": .string(minted.token), "token_type": .string("Bearer"), "expires_in": .int(Int64(minted.expiresIn)),
                "scope": .string(minted.scope),
            ]), headers: Self.headers(minted))
    }

    static let tokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
    static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
    static let notAllowedForClient = "the tenant is unknown or not allowed for this client"
    static let notAllowedForSubject = "the tenant is unknown or not allowed for this subject"

    /// RFC 8693: a Keycloak access token of a tenant realm becomes a cx-tenant token for that tenant; a
    /// master-realm token must name `tenant` and carry the admin or minter role.
    func exchange(_ form: [String: String]) async throws -> Response {
        guard let subjectToken = form["subject_token"], !subjectToken.isEmpty else { throw OAuthFailure.invalidRequest("subject_token is required") }
        guard form["subject_token_type"] == Self.accessTokenType else {
            throw OAuthFailure.invalidRequest("subject_token_type must be \(Self.accessTokenType)")
        }
        if let requested = form["requested_token_type"], requested != Self.accessTokenType {
            throw OAuthFailure.invalidRequest("only access tokens can be issued")
        }
        guard let subject = await authentication.keycloak.identify(subjectToken) else {
            throw OAuthFailure.invalidGrant("subject_token is not a valid access token of a trusted issuer")
        }
        var tenantId: String
        if let tenants = subject.tenants {
            // A tenant realm's token is for that tenant only.
            guard tenants.count == 1, let own = tenants.first else { throw OAuthFailure.invalidGrant(nil) }
            if let named = form["tenant"], named != own { throw OAuthFailure.invalidTarget(Self.notAllowedForSubject) }
            tenantId = own
        } else {
            guard AccessPolicy.mayMint(subject) else { throw OAuthFailure.invalidGrant("the subject may not obtain cx-tenant tokens") }
            guard let named = form["tenant"] else { throw OAuthFailure.invalidRequest("a master-realm subject must name the tenant") }
            tenantId = named
        }
        if !TenantRules.isValidTenantId(tenantId) { tenantId = "" }
        let minted: TokenIssuer.Minted
        do {
            minted = try issuer.mint(
                caller: subject, tenantId: tenantId, audience: form["audience"], scope: nil, roles: nil, ttl: nil, subjectRoles: subject.tenants != nil)
        } catch {
            if case .rateLimited(let decision) = error { throw rateLimited(decision, route: RoutePaths.oauthTokenLabel, tenant: tenantId) }
            if case .invalid = error { throw OAuthFailure.invalidTarget("audience must be an https URI on the tenant's own domain") }
            throw OAuthFailure.invalidTarget(Self.notAllowedForSubject)
        }
        mint.metrics.recordMint(endpoint: "token-exchange", tenant: mint.runtime.metricsTenantLabel(minted.tenant.tenantId))
        return JSONResponse.make(
            .object([
                "access_token": .string(minted.token), "issued_token_type": .string(Self.accessTokenType), "token_type": .string("Bearer"),
                "expires_in": .int(Int64(minted.expiresIn)), "scope": .string(minted.scope),
            ]), headers: Self.headers(minted))
    }

    /// A token answer's headers: no caching, and the mint limit's state while one applies.
    static func headers(_ minted: TokenIssuer.Minted) -> HTTPFields {
        var fields = JSONResponse.tokenHeaders
        if let rate = minted.rate { RateLimitHeaders.append(rate, policy: TokenIssuer.mintPolicy, to: &fields) }
        return fields
    }

    /// Counts a refused mint and gives the OAuth refusal.
    func rateLimited(_ decision: RateDecision, route: String, tenant: String?) -> OAuthFailure {
        mint.metrics.recordRateLimited(route: route, limit: TokenIssuer.mintPolicy, tenant: mint.runtime.metricsTenantLabel(tenant ?? ""))
        return .slowDown(decision)
    }
}
