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

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization], let presented = Self.bearer(header), let parts = APIKeyRecord.parse(presented) {
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

    static func bearer(_ header: String) -> String? {
        guard header.utf8.count <= 8192, header.lowercased().hasPrefix("bearer ") else { return nil }
        return String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    }
}
