import HTTPTypes
import Hummingbird

/// Sets `context.caller` from `Authorization: Bearer` on the `/v1` API: an API key, a cx-tenant token or a
/// Keycloak token (`CallerAuthentication`). Anything else leaves no caller; the policy then answers 401.
/// Authorisation is a separate step (`AccessPolicy`).
struct CallerAuthenticationMiddleware: RouterMiddleware {
    typealias Context = BrokerRequestContext
    let authentication: CallerAuthentication

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard Self.needsCaller(request.uri.path), let presented = request.headers.value(of: .authorization).flatMap(CallerAuthentication.bearer)
        else { return try await next(request, context) }
        var context = context
        if let caller = await authentication.caller(bearer: presented) {
            context.caller = caller
            context.logger[metadataKey: "caller"] = .string(caller.subject)
        }
        return try await next(request, context)
    }

    /// Routes that authenticate callers through this middleware: the `/v1` API except forward-auth, whose
    /// bearer token is the token under test, not the caller's credential.
    static func needsCaller(_ path: String) -> Bool {
        path.hasPrefix("/v1/") && path != RoutePaths.verify
    }
}
