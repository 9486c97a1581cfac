import HTTPTypes
import Hummingbird
import JOSE
import TenantRegistry

/// Authenticates `Authorization: Bearer tbk_<id>_<secret>`. Returns no identity for anything else, so
/// other authenticators (Keycloak, cx-tenant tokens) can follow; a malformed or wrong key is 401 at the policy.
struct APIKeyAuthenticator: RouterMiddleware {
    typealias Context = BrokerRequestContext
    let store: SQLTenantStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization], let presented = Self.bearer(header), let parts = APIKeyRecord.parse(presented) {
            let record: APIKeyRecord?
            do {
                record = try await store.apiKey(id: parts.id)
            } catch {
                throw Problem(.serviceUnavailable, code: "store_unavailable", detail: "the registry store cannot be reached")
            }
            // Hash even when the id is unknown, so timing says little about which ids exist.
            let matches = record?.matches(secret: parts.secret) ?? (APIKeyRecord.hash(secret: parts.secret).isEmpty)
            if matches, let record, record.revokedAt == nil {
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
