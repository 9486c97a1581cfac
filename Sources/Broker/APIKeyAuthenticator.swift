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
        var context = context
        if let header = request.headers[.authorization], let presented = Self.bearer(header), !presented.hasPrefix("tbk_"), !presented.isEmpty {
            context.caller = await tokenCaller(presented)
            if let caller = context.caller { context.logger[metadataKey: "caller"] = .string(caller.subject) }
        } else if let header = request.headers[.authorization], let presented = Self.bearer(header), let parts = APIKeyRecord.parse(presented) {
            var record = service.apiKeys.activeKey(id: parts.id)
            if record == nil, service.apiKeys.claimMissReload() {
                // A key created moments ago (CLI, another instance) may not be in memory yet.
                try? await service.reloadAPIKeys()
                record = service.apiKeys.activeKey(id: parts.id)
            }
            // Hash even when the id is unknown, so timing says little about which ids exist.
            let matches = record?.matches(secret: parts.secret) ?? (APIKeyRecord.hash(secret: parts.secret).isEmpty)
            if matches, let record {
                context.caller = CallerIdentity(apiKey: record)
                context.logger[metadataKey: "caller"] = .string(context.caller!.subject)
            }
        }
        return try await next(request, context)
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

    static func bearer(_ header: String) -> String? {
        guard header.utf8.count <= 8192, header.lowercased().hasPrefix("bearer ") else { return nil }
        return String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    }
}
