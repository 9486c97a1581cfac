import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import KeyRing

/// `/.well-known/*`: the OIDC / RFC 8414 discovery document and the JWKS, both served from memory.
struct DiscoveryRoutes: Sendable {
    let keyRing: KeyRing
    let issuer: @Sendable () -> String
    let maxAge: Int

    func addRoutes(to router: Router<BrokerRequestContext>) {
        router.get("/.well-known/jwks.json") { request, _ in jwks(request) }
        router.get("/.well-known/openid-configuration") { _, _ in discovery() }
        router.get("/.well-known/oauth-authorization-server") { _, _ in discovery() }
    }

    func jwks(_ request: Request) -> Response {
        let snapshot = keyRing.current
        var headers: HTTPFields = [.cacheControl: "public, max-age=\(maxAge)", .eTag: snapshot.jwksETag]
        if let candidates = request.headers[.ifNoneMatch], Self.matches(candidates, etag: snapshot.jwksETag) {
            headers[.contentLength] = nil
            return Response(status: .notModified, headers: headers)
        }
        return JSONResponse.make(bytes: snapshot.jwks, headers: headers)
    }

    func discovery() -> Response {
        let base = issuer()
        let document = JSONValue.object([
            "issuer": .string(base),
            "jwks_uri": .string(base + "/.well-known/jwks.json"),
            "token_endpoint": .string(base + "/oauth2/token"),
            "introspection_endpoint": .string(base + "/oauth2/introspect"),
            "revocation_endpoint": .string(base + "/oauth2/revoke"),
            "grant_types_supported": .array([
                .string("client_credentials"), .string("urn:ietf:params:oauth:grant-type:token-exchange"),
            ]),
            "token_endpoint_auth_methods_supported": .array([.string("client_secret_basic"), .string("client_secret_post")]),
            "introspection_endpoint_auth_methods_supported": .array([.string("client_secret_basic"), .string("client_secret_post")]),
            "revocation_endpoint_auth_methods_supported": .array([.string("client_secret_basic"), .string("client_secret_post")]),
            "id_token_signing_alg_values_supported": .array(keyRing.current.publishedAlgorithms.map(JSONValue.string)),
            "response_types_supported": .array([.string("token")]),
            "subject_types_supported": .array([.string("public")]),
        ])
        return JSONResponse.make(document, headers: [.cacheControl: "public, max-age=\(maxAge)"])
    }

    /// RFC 9110 §13.1.2: weak comparison against a comma-separated list, or `*`.
    static func matches(_ header: String, etag: String) -> Bool {
        let ours = etag.hasPrefix("W/") ? String(etag.dropFirst(2)) : etag
        for candidate in header.split(separator: ",") {
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            if tag == ours { return true }
        }
        return false
    }
}
