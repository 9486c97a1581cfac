import HTTPTypes
import Hummingbird
import JOSE
import TenantRegistry

/// Authenticates `Authorization: Bearer tbk_<id>_<secret>`. Returns no identity for anything else, so
/// other authenticators (Keycloak, cx-tenant tokens) can follow; a malformed or wrong key is 401 at the policy.
/// Keys come from memory (`APIKeyDirectory`): no database round trip per request.
struct APIKeyAuthenticator: RouterMiddleware {
    typealias Context = BrokerRequestContext
    let service: TenantService
    /// Bearer tokens that are not API keys: cx-tenant tokens first (no I/O), then Keycloak tokens.
    let verifier: TokenVerifier
    let keycloak: KeycloakCallerVerifier

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard Self.needsCaller(request.uri.path) else { return try await next(request, context) }
        var context = context
        let presented = request.headers.value(of: .authorization).flatMap(Self.bearer)
        if let presented, !presented.hasPrefix("tbk_"), !presented.isEmpty {
            context.caller = await tokenCaller(presented)
            if let caller = context.caller { context.logger[metadataKey: "caller"] = .string(caller.subject) }
        } else if let presented, let caller = await Self.identify(apiKey: presented, service: service) {
            context.caller = caller
            context.logger[metadataKey: "caller"] = .string(caller.subject)
        }
        return try await next(request, context)
    }

    /// The caller an API key (`tbk_<id>_<secret>`) stands for, or nil for a malformed, unknown, revoked or wrong
    /// key. The one check every way of presenting a key ends in (`/v1` Bearer, `/oauth2/*` Bearer, Basic, form).
    static func identify(apiKey presented: String, service: TenantService) async -> CallerIdentity? {
        guard let parts = APIKeyRecord.parse(presented),
            let record = await service.authenticateAPIKey(id: parts.id, secret: parts.secret)
        else { return nil }
        return CallerIdentity(apiKey: record)
    }

    /// A caller from a cx-tenant token (role `tenant-admin` administers its tenant) or a Keycloak token.
    func tokenCaller(_ token: String) async -> CallerIdentity? {
        if case .success(let verified) = verifier.verify(token) {
            let admin = verified.roles.contains(KeycloakCallerVerifier.tenantAdminRole)
            return CallerIdentity(
                subject: "cx-token:\(verified.subject)", name: verified.subject, clientId: verified.clientId, isSystemAdmin: false,
                scopes: admin ? ["tenants:read", "tenants:write"] : [], tenants: [verified.tenantId])
        }
        return await keycloak.identify(token)
    }

    /// The credential of `Authorization: Bearer <credential>`, scheme matched case-insensitively, spaces trimmed.
    /// Byte-level on purpose: this runs on every request, and Foundation's trimming goes through UTF-16.
    static func bearer(_ header: String) -> String? {
        let bytes = header.utf8
        guard bytes.count <= 8192, bytes.count > 7 else { return nil }
        var index = bytes.startIndex
        for expected in "bearer ".utf8 {
            guard bytes[index] | 0x20 == expected | 0x20 else { return nil }
            index = bytes.index(after: index)
        }
        var end = bytes.endIndex
        while index < end, bytes[index] == 0x20 || bytes[index] == 0x09 { index = bytes.index(after: index) }
        while end > index, bytes[bytes.index(before: end)] == 0x20 || bytes[bytes.index(before: end)] == 0x09 { end = bytes.index(before: end) }
        return String(Substring(header.utf8[index..<end]))
    }

    /// Routes that authenticate callers through this middleware: the `/v1` API except forward-auth, whose
    /// bearer token is the token under test, not the caller's credential.
    static func needsCaller(_ path: String) -> Bool {
        path.hasPrefix("/v1/") && path != "/v1/verify"
    }
}
