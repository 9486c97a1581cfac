import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import NIOCore
import TenantRegistry

/// Minting: `POST /v1/tenants/{tenantId}/token` (problem errors) and `POST /oauth2/token` (OAuth errors).
struct TokenController: Sendable {
    let issuer: TokenIssuer
    let service: TenantService
    let metrics: BrokerMetrics
    let keycloak: KeycloakCallerVerifier

    func addRoutes(to router: Router<BrokerRequestContext>) {
        router.post("/v1/tenants/:tenantId/token") { request, context in try await mintV1(request, context) }
        router.post("/oauth2/token") { request, context in try await oauthToken(request, context) }
    }

    func mintV1(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let (caller, tenantId) = try Policy.tenantCaller(context, scope: "token:mint")
        var body = [UInt8]()
        if request.headers[.contentLength].map({ $0 != "0" }) ?? true {
            do {
                body = Array(buffer: try await RequestBody.collect(request, limit: RequestBody.defaultLimit))
            } catch .tooLarge {
                throw RequestBody.tooLarge(RequestBody.defaultLimit)
            } catch .malformed {
                throw RequestBody.malformedFraming
            }
        }
        let answer = try MintV1(issuer: issuer, metrics: metrics).answer(caller: caller, tenantId: tenantId, body: body)
        return Response(status: .ok, headers: answer.headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    func oauthToken(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let form = try await FormBody.parse(request)
        guard let grant = form["grant_type"] else {
            throw OAuthError(.badRequest, error: "invalid_request", description: "grant_type is required")
        }
        if grant == Self.tokenExchange { return try await exchange(form) }
        guard grant == "client_credentials" else {
            throw OAuthError(.badRequest, error: "unsupported_grant_type", description: "supported: client_credentials, \(Self.tokenExchange)")
        }
        let caller = try await authenticateClient(request, form: form)
        guard caller.isSystemAdmin || caller.scopes.contains("token:mint") else {
            throw OAuthError(.badRequest, error: "unauthorized_client", description: "this client may not mint tokens")
        }
        var tenantId = form["tenant"]
        var domain: String?
        if let resource = form["resource"] {
            guard let url = URL(string: resource), url.scheme == "https", let host = url.host, url.path.isEmpty || url.path == "/" else {
                throw OAuthError(.badRequest, error: "invalid_target", description: "the tenant is unknown or not allowed for this client")
            }
            if tenantId != nil { throw OAuthError(.badRequest, error: "invalid_request", description: "send tenant or resource, not both") }
            domain = host.lowercased()
        }
        guard tenantId != nil || domain != nil else {
            throw OAuthError(.badRequest, error: "invalid_request", description: "tenant or resource is required")
        }
        if let id = tenantId, !TenantRules.isValidTenantId(id) { tenantId = nil; domain = "" }
        let scope = form["scope"].map { $0.split(separator: " ").map(String.init) }
        do {
            let minted = try issuer.mint(caller: caller, tenantId: tenantId, domain: domain, audience: nil, scope: scope, roles: nil, ttl: nil)
            metrics.recordMint(endpoint: "oauth2", tenant: issuer.runtime.metricsTenantLabel(minted.tenant.tenantId))
            return JSONResponse.make(
                .object([
                    "access_token": .string(minted.token), "token_type": .string("Bearer"), "expires_in": .int(Int64(minted.expiresIn)),
                    "scope": .string(minted.scope),
                ]), headers: [.cacheControl: "no-store", HTTPField.Name("Pragma")!: "no-cache"])
        } catch {
            // Unknown, not allowed and inactive tenants look alike to the client (RFC 8707).
            throw OAuthError(.badRequest, error: "invalid_target", description: "the tenant is unknown or not allowed for this client")
        }
    }

    static let tokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
    static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

    /// RFC 8693: a Keycloak access token of a tenant realm becomes a cx-tenant token for that tenant; a
    /// master-realm token must name `tenant` and carry the admin or minter role.
    func exchange(_ form: [String: String]) async throws -> Response {
        guard let subjectToken = form["subject_token"], !subjectToken.isEmpty else {
            throw OAuthError(.badRequest, error: "invalid_request", description: "subject_token is required")
        }
        guard form["subject_token_type"] == Self.accessTokenType else {
            throw OAuthError(.badRequest, error: "invalid_request", description: "subject_token_type must be \(Self.accessTokenType)")
        }
        if let requested = form["requested_token_type"], requested != Self.accessTokenType {
            throw OAuthError(.badRequest, error: "invalid_request", description: "only access tokens can be issued")
        }
        guard let subject = await keycloak.identify(subjectToken) else {
            throw OAuthError(.badRequest, error: "invalid_grant", description: "subject_token is not a valid access token of a trusted issuer")
        }
        var tenantId: String
        if let tenants = subject.tenants {
            // A tenant realm's token is for that tenant only.
            guard tenants.count == 1, let own = tenants.first else { throw OAuthError(.badRequest, error: "invalid_grant") }
            if let named = form["tenant"], named != own {
                throw OAuthError(.badRequest, error: "invalid_target", description: "the tenant is unknown or not allowed for this subject")
            }
            tenantId = own
        } else {
            guard subject.isSystemAdmin || subject.scopes.contains("token:mint") else {
                throw OAuthError(.badRequest, error: "invalid_grant", description: "the subject may not obtain cx-tenant tokens")
            }
            guard let named = form["tenant"] else {
                throw OAuthError(.badRequest, error: "invalid_request", description: "a master-realm subject must name the tenant")
            }
            tenantId = named
        }
        if !TenantRules.isValidTenantId(tenantId) { tenantId = "" }
        let audience = form["audience"]
        do {
            let minted = try issuer.mint(
                caller: subject, tenantId: tenantId, audience: audience, scope: nil, roles: nil, ttl: nil, subjectRoles: subject.tenants != nil)
            metrics.recordMint(endpoint: "token-exchange", tenant: issuer.runtime.metricsTenantLabel(minted.tenant.tenantId))
            return JSONResponse.make(
                .object([
                    "access_token": .string(minted.token), "issued_token_type": .string(Self.accessTokenType), "token_type": .string("Bearer"),
                    "expires_in": .int(Int64(minted.expiresIn)), "scope": .string(minted.scope),
                ]), headers: [.cacheControl: "no-store", HTTPField.Name("Pragma")!: "no-cache"])
        } catch {
            if case .invalid = error {
                throw OAuthError(.badRequest, error: "invalid_target", description: "audience must be an https URI on the tenant's own domain")
            }
            throw OAuthError(.badRequest, error: "invalid_target", description: "the tenant is unknown or not allowed for this subject")
        }
    }

    /// Client authentication with an API key, by any of the contract's three methods (exactly one of them):
    /// `Authorization: Bearer tbk_<id>_<secret>`, HTTP Basic `tbk_<id>:<secret>`, or `client_id=tbk_<id>` +
    /// `client_secret` in the form. All three end in the same check as the `/v1` API's (`APIKeyAuthenticator.identify`).
    func authenticateClient(_ request: Request, form: [String: String]) async throws -> CallerIdentity {
        let basic = FormBody.basicCredentials(request)
        // A Bearer header that cannot be parsed (too long, empty) is still a Bearer attempt: it fails as one.
        let bearer = request.headers[.authorization].flatMap { header in
            header.utf8.prefix(7).map { $0 | 0x20 } == Array("bearer ".utf8) ? APIKeyAuthenticator.bearer(header) ?? "" : nil
        }
        let formId = form["client_id"]
        let formSecret = form["client_secret"]
        if [basic != nil, bearer != nil, formSecret != nil].filter({ $0 }).count > 1 {
            throw OAuthError(.badRequest, error: "invalid_request", description: "use one client authentication method, not two")
        }
        let failed = OAuthError(
            .unauthorized, error: "invalid_client", description: "client authentication failed",
            headers: [.wwwAuthenticate: bearer != nil ? "Bearer realm=\"token-broker\"" : "Basic realm=\"token-broker\""])
        let presented: String
        if let bearer {
            presented = bearer
        } else {
            guard let id = basic?.id ?? formId, let secret = basic?.secret ?? formSecret, id.hasPrefix("tbk_") else { throw failed }
            presented = id + "_" + secret
        }
        // A client_id beside the credential must name the same key.
        if let formId, let parts = APIKeyRecord.parse(presented), formId != "tbk_" + parts.id { throw failed }
        guard let caller = await APIKeyAuthenticator.identify(apiKey: presented, service: service) else { throw failed }
        return caller
    }
}
