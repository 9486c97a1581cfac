import AsyncHTTPClient
import Foundation
import JOSE
import Logging
import NIOCore
import NIOHTTP1
import Upstream

/// Password, refresh, logout and introspection calls to any OpenID provider, with every endpoint taken
/// from discovery. Keycloak's quirks (`keycloak-wire.md`) are handled by keying on the `error` code, never
/// on the HTTP status of a refusal, and no provider body is ever passed on.
public final class OIDCClient: Sendable {
    let discovery: OIDCDiscovery
    let httpClient: HTTPClient
    /// Bound on one whole call (connect, send, receive).
    let timeout: Duration
    public let logger: Logger
    static let maxResponseBytes = 256 * 1024

    public init(discovery: OIDCDiscovery, httpClient: HTTPClient = UpstreamHTTP.client, timeout: Duration = .seconds(10), logger: Logger) {
        self.discovery = discovery
        self.httpClient = httpClient
        self.timeout = timeout
        self.logger = logger
    }

    /// OAuth error codes (RFC 6749 §5.2) that refuse the client or the request rather than the user's password.
    static let clientErrors: Set<String> = ["invalid_client", "unauthorized_client", "invalid_scope", "invalid_request", "unsupported_grant_type"]

    /// Resource owner password grant.
    public func password(
        issuer: String, client: OIDCClientCredentials, username: String, password: String, scope: String?
    ) async throws(OIDCFailure) -> OIDCTokenResponse {
        var form = [("grant_type", "password"), ("username", username), ("password", password)]
        if let scope, !scope.isEmpty { form.append(("scope", scope)) }
        let reply = try await tokenCall(issuer: issuer, client: client, form: form)
        switch reply.outcome {
        case .success(let object): return try Self.tokenResponse(object)
        case .refused(let status, let error, let description):
            if error == "invalid_grant" {
                // Keycloak: the description tells a disabled account and an unfinished one from bad credentials.
                if description == "Account disabled" || description == "User disabled" { throw .accountDisabled }
                if description == "Account is not fully set up" { throw .accountSetupRequired }
            }
            if let error, Self.clientErrors.contains(error) { throw .clientRefused("status \(status), error \(error)") }
            throw .invalidCredentials("status \(status), error \(error ?? "none")")
        }
    }

    /// Refresh grant. Any refusal means the session is gone: the caller must log in again.
    public func refresh(issuer: String, client: OIDCClientCredentials, refreshToken: String) async throws(OIDCFailure) -> OIDCTokenResponse {
        let reply = try await tokenCall(issuer: issuer, client: client, form: [("grant_type", "refresh_token"), ("refresh_token", refreshToken)])
        switch reply.outcome {
        case .success(let object): return try Self.tokenResponse(object)
        case .refused(let status, let error, _): throw .invalidRefreshToken("status \(status), error \(error ?? "none")")
        }
    }

    /// Ends the session of `refreshToken`: at the provider's `end_session_endpoint` (Keycloak: POST with the
    /// client's credentials and the refresh token), or, when that is missing or refuses, by revoking the
    /// refresh token at the `revocation_endpoint` (RFC 7009).
    public func logout(issuer: String, client: OIDCClientCredentials, refreshToken: String) async throws(OIDCFailure) {
        guard let metadata = await discovery.metadata(for: issuer) else { throw .unavailable("discovery of \(issuer) failed") }
        var refusal: String?
        if let endSession = metadata.endSessionEndpoint {
            let reply = try await post(endSession, operation: "OIDC end_session", client: client, form: [("refresh_token", refreshToken)], metadata: metadata, expectJSON: false)
            switch reply.outcome {
            case .success: return
            case .refused(let status, let error, _): refusal = "end_session answered \(status) \(error ?? "")"
            }
        }
        guard let revocation = metadata.revocationEndpoint else {
            throw .invalidRefreshToken(refusal ?? "the provider offers neither end_session_endpoint nor revocation_endpoint")
        }
        let reply = try await post(
            revocation, operation: "OIDC revoke", client: client, form: [("token", refreshToken), ("token_type_hint", "refresh_token")], metadata: metadata, expectJSON: false)
        switch reply.outcome {
        case .success: return
        case .refused(let status, let error, _): throw .invalidRefreshToken("revocation answered \(status) \(error ?? "")")
        }
    }

    /// RFC 7662 introspection with the client's credentials: the provider's claims when the token is active, nil when not.
    public func introspect(issuer: String, client: OIDCClientCredentials, token: String) async throws(OIDCFailure) -> [String: JSONValue]? {
        guard let metadata = await discovery.metadata(for: issuer) else { throw .unavailable("discovery of \(issuer) failed") }
        guard let endpoint = metadata.introspectionEndpoint else { throw .unsupported("no introspection_endpoint") }
        let reply = try await post(endpoint, operation: "OIDC introspect", client: client, form: [("token", token), ("token_type_hint", "access_token")], metadata: metadata, expectJSON: true)
        switch reply.outcome {
        case .success(let object):
            guard let object else { throw .unavailable("introspection answered no JSON object") }
            return object["active"] == .bool(true) ? object : nil
        case .refused(let status, let error, _):
            throw .unavailable("introspection refused the broker's client: \(status) \(error ?? "")")
        }
    }

    // MARK: - HTTP

    struct Reply {
        enum Outcome {
            /// 2xx; the JSON object when one was expected (nil for empty bodies where that is allowed).
            case success([String: JSONValue]?)
            /// 4xx: the status and the provider's `error` code and description, when the body had them.
            case refused(Int, String?, String?)
        }
        let outcome: Outcome
    }

    func tokenCall(issuer: String, client: OIDCClientCredentials, form: [(String, String)]) async throws(OIDCFailure) -> Reply {
        guard let metadata = await discovery.metadata(for: issuer) else { throw .unavailable("discovery of \(issuer) failed") }
        guard let endpoint = metadata.tokenEndpoint else { throw .unsupported("no token_endpoint") }
        return try await post(endpoint, operation: "OIDC token", client: client, form: form, metadata: metadata, expectJSON: true)
    }

    /// POSTs a form with the client's credentials (in the form, or HTTP Basic when the provider only lists
    /// `client_secret_basic`). 5xx, timeouts, refused connections and unreadable 2xx bodies are `unavailable`.
    func post(
        _ url: String, operation: String, client: OIDCClientCredentials, form: [(String, String)], metadata: OIDCDiscovery.Metadata, expectJSON: Bool
    ) async throws(OIDCFailure) -> Reply {
        var fields = form
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        let basicOnly = metadata.tokenEndpointAuthMethods.map { !$0.contains("client_secret_post") && $0.contains("client_secret_basic") } ?? false
        if let secret = client.clientSecret, basicOnly {
            // RFC 6749 §2.3.1: each half form-encoded before base64 (Keycloak decodes them).
            let pair = Self.formEncode(client.clientId) + ":" + Self.formEncode(secret)
            request.headers.add(name: "Authorization", value: "Basic " + Data(pair.utf8).base64EncodedString())
        } else {
            fields.append(("client_id", client.clientId))
            if let secret = client.clientSecret { fields.append(("client_secret", secret)) }
        }
        request.body = .bytes(ByteBuffer(string: Self.formBody(fields)))
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await httpClient.tracedExecute(request, timeout: timeout.timeAmount, operation: operation)
            body = try await response.body.collect(upTo: Self.maxResponseBytes)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .connectTimeout || error == .readTimeout {
            throw .unavailable("timed out after \(timeout)")
        } catch {
            throw .unavailable("\(Self.describe(error))")
        }
        let status = Int(response.status.code)
        let object = try? JSONParser(maxBytes: Self.maxResponseBytes).parseObject(Array(buffer: body))
        switch status {
        case 200..<300:
            // Logout and revocation answer 204 or an empty 200; token and introspection answers must be JSON objects.
            if expectJSON && object == nil { throw .unavailable("status \(status) with a body that is not a JSON object") }
            return Reply(outcome: .success(object))
        case 400..<500:
            return Reply(outcome: .refused(status, object?["error"]?.stringValue, object?["error_description"]?.stringValue))
        default:
            throw .unavailable("status \(status)")
        }
    }

    static func tokenResponse(_ object: [String: JSONValue]?) throws(OIDCFailure) -> OIDCTokenResponse {
        guard let object, let access = object["access_token"]?.stringValue, !access.isEmpty,
            let type = object["token_type"]?.stringValue, type.lowercased() == "bearer"
        else { throw .unavailable("the token response has no access_token or a token_type other than Bearer") }
        guard let expiresIn = object["expires_in"]?.intValue, expiresIn >= 0 else {
            throw .unavailable("the token response has no valid expires_in")
        }
        return OIDCTokenResponse(
            accessToken: access, expiresIn: expiresIn, refreshToken: object["refresh_token"]?.stringValue,
            refreshExpiresIn: object["refresh_expires_in"]?.intValue, idToken: object["id_token"]?.stringValue, scope: object["scope"]?.stringValue)
    }

    /// `application/x-www-form-urlencoded`, every byte outside the unreserved set percent-encoded.
    static func formBody(_ fields: [(String, String)]) -> String {
        fields.map { formEncode($0.0) + "=" + formEncode($0.1) }.joined(separator: "&")
    }

    static func formEncode(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default:
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(UnicodeScalar(hex[Int(byte >> 4)]))
                out.unicodeScalars.append(UnicodeScalar(hex[Int(byte & 0x0F)]))
            }
        }
        return out
    }

    /// A short, secret-free description of a transport error.
    static func describe(_ error: any Error) -> String {
        if UpstreamHTTP.isConnectFailure(error) { return "connection failed" }
        if let error = error as? HTTPClientError { return "\(error)" }
        if let error = error as? IOError { return "I/O error \(error.errnoCode)" }
        return String(describing: type(of: error))
    }
}
