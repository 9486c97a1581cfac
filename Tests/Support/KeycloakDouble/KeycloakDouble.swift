import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import Logging
import NIOCore
import ServiceLifecycle
import LoopbackServer
import Synchronization

/// A stand-in for Keycloak on loopback, speaking the wire format of `spec/keycloak-wire.md` for several
/// realms: discovery, certs (an RSA-OAEP `enc` key beside the RS256 signing keys, `x5c`, Keycloak's header
/// spacing), the token endpoint (password, refresh, client_credentials) with Keycloak's error table,
/// logout, introspection and revocation. Switches rotate keys, fail with 5xx, hang, answer HTML, or stop.
public final class KeycloakDouble: Sendable {
    public enum Mode: Sendable, Equatable {
        case normal
        /// Every endpoint answers 500 (Keycloak's generic error JSON).
        case failing
        /// Every endpoint waits this long before answering normally.
        case hanging(Duration)
        /// Every endpoint answers 200 with an HTML page (a misrouted proxy, a login page).
        case html
    }

    public struct User: Sendable {
        public var id: String
        public var password: String
        public var enabled: Bool
        public var requiredActions: Bool
        public var email: String?
        public var phone: String?
        public var roles: [String]

        public init(password: String, enabled: Bool = true, requiredActions: Bool = false, email: String? = nil, phone: String? = nil, roles: [String] = []) {
            self.id = UUID().uuidString.lowercased()
            self.password = password
            self.enabled = enabled
            self.requiredActions = requiredActions
            self.email = email
            self.phone = phone
            self.roles = roles
        }
    }

    public struct Client: Sendable {
        public var secret: String?
        public var directGrants: Bool
        public var lightweight: Bool
        public var serviceAccountRoles: [String]?

        public init(secret: String? = nil, directGrants: Bool = true, lightweight: Bool = false, serviceAccountRoles: [String]? = nil) {
            self.secret = secret
            self.directGrants = directGrants
            self.lightweight = lightweight
            self.serviceAccountRoles = serviceAccountRoles
        }
    }

    struct Session: Sendable {
        let realm: String
        let username: String
        let clientId: String
        let scope: String
        var active = true
    }

    struct Realm: Sendable {
        var signing: [(kid: String, key: JWSPrivateKey)]
        let encryption: JWSPrivateKey
        var users: [String: User] = [:]
        var clients: [String: Client] = ["admin-cli": Client(lightweight: true)]
    }

    struct State: Sendable {
        var realms: [String: Realm]
        var sessions: [String: Session] = [:]
        /// refresh token → session id; several per session after refreshes.
        var refreshTokens: [String: String] = [:]
        var revokedJTIs: Set<String> = []
    }

    private let state: Mutex<State>
    private let mode = Mutex<Mode>(.normal)
    private let wrongPasswordStatus = Mutex<HTTPResponse.Status>(.unauthorized)
    private let counters = Mutex<[String: Int]>([:])
    private let requestLog = Mutex<[(path: String, form: [String: String], authorization: String?)]>([])
    private let traceparentLog = Mutex<[(path: String, values: [String])]>([])
    private let omitted = Mutex<Set<String>>([])
    private let server = LoopbackServer(label: "keycloak-double")
    /// The access token lifetime Keycloak's master realm uses by default.
    public let accessTokenLifespan: Int64 = 60

    public init(realms names: [String]) throws {
        var realms = [String: Realm]()
        for name in names {
            realms[name] = Realm(signing: [("kc-\(name)-1", try JWSPrivateKey.generate(.rs256))], encryption: try JWSPrivateKey.generate(.rs256))
        }
        self.state = Mutex(State(realms: realms))
    }

    public var port: Int { server.port }
    public var base: String { "http://\(server.host):\(port)" }
    public func issuer(_ realm: String) -> String { "\(base)/realms/\(realm)" }
    public func jwksURL(_ realm: String) -> String { "\(issuer(realm))/protocol/openid-connect/certs" }
    public var certsRequestCount: Int { count("certs") }
    /// Requests seen at an endpoint: "token", "certs", "logout", "introspect", "revoke", "discovery".
    public func count(_ endpoint: String) -> Int { counters.withLock { $0[endpoint] ?? 0 } }
    /// Every form sent to the token, logout, introspect and revoke endpoints, with its Authorization header.
    public var forms: [(path: String, form: [String: String], authorization: String?)] { requestLog.withLock { $0 } }
    /// The W3C `traceparent` headers of each form request, in order (empty when a request had none).
    public var traceparents: [(path: String, values: [String])] { traceparentLog.withLock { $0 } }
    public func set(_ newMode: Mode) { mode.withLock { $0 = newMode } }
    /// Leaves these members out of discovery documents (a provider without `end_session_endpoint`, say).
    public func omitFromDiscovery(_ members: Set<String>) { omitted.withLock { $0 = members } }
    /// 401 (Keycloak up to 26.5) or 400 (26.6 and later) for a wrong password.
    public func setWrongPasswordStatus(_ status: HTTPResponse.Status) { wrongPasswordStatus.withLock { $0 = status } }

    public func addUser(_ realm: String, _ username: String, _ user: User) {
        state.withLock { $0.realms[realm]!.users[username.lowercased()] = user }
    }

    public func addClient(_ realm: String, _ clientId: String, _ client: Client) {
        state.withLock { $0.realms[realm]!.clients[clientId] = client }
    }

    public func updateUser(_ realm: String, _ username: String, _ edit: @Sendable (inout User) -> Void) {
        state.withLock { edit(&$0.realms[realm]!.users[username.lowercased()]!) }
    }

    /// Number of user sessions still active (logout ends one).
    public var activeSessions: Int { state.withLock { $0.sessions.values.filter(\.active).count } }

    /// Adds a new signing key that signs from now on; with `dropOld`, the old ones leave the JWKS (disabled in Keycloak).
    public func rotate(_ realm: String, dropOld: Bool) throws -> String {
        let key = try JWSPrivateKey.generate(.rs256)
        return state.withLock { state in
            let kid = "kc-\(realm)-\(state.realms[realm]!.signing.count + 1)"
            if dropOld { state.realms[realm]!.signing.removeAll() }
            state.realms[realm]!.signing.insert((kid, key), at: 0)
            return kid
        }
    }

    /// A token signed like Keycloak signs it (header byte-exact, with the spaces around the colons).
    public func token(_ realm: String, claims: [String: JSONValue]) throws -> String {
        let (kid, key) = state.withLock { $0.realms[realm]!.signing[0] }
        let header = "{\"alg\":\"RS256\",\"typ\" : \"JWT\",\"kid\" : \"\(kid)\"}"
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(JSONValue.object(claims).serialized())
        return input + "." + Base64URL.encode(try key.sign(Array(input.utf8)))
    }

    func jwks(_ realm: String) -> JSONValue? {
        state.withLock { state -> JSONValue? in
            guard let keys = state.realms[realm] else { return nil }
            var entries = [JSONValue]()
            var enc = keys.encryption.publicKey.jwk
            enc.kid = "kc-\(realm)-enc"
            enc.alg = "RSA-OAEP"
            enc.use = "enc"
            entries.append(Self.withCertificateFields(enc))
            for (kid, key) in keys.signing {
                var jwk = key.publicKey.jwk
                jwk.kid = kid
                entries.append(Self.withCertificateFields(jwk))
            }
            return .object(["keys": .array(entries)])
        }
    }

    static func withCertificateFields(_ jwk: JWK) -> JSONValue {
        var members = jwk.json.objectValue!
        members["x5c"] = .array([.string("MIICmzCCAYMCBgGT")])
        members["x5t"] = .string("aB3c")
        members["x5t#S256"] = .string("Zx9y")
        return .object(members)
    }

    // MARK: - Server

    public func start() async throws {
        let router = Router()
        router.add(middleware: ModeMiddleware(double: self))
        router.get("/realms/:realm/.well-known/openid-configuration") { [self] _, context -> Response in
            bump("discovery")
            let realm = context.parameters.get("realm") ?? ""
            guard realmExists(realm) else { return Self.realmMissing }
            let issuer = issuer(realm)
            let oidc = "\(issuer)/protocol/openid-connect"
            var document: [String: JSONValue] = [
                "issuer": .string(issuer), "jwks_uri": .string("\(oidc)/certs"), "token_endpoint": .string("\(oidc)/token"),
                "introspection_endpoint": .string("\(oidc)/token/introspect"), "end_session_endpoint": .string("\(oidc)/logout"),
                "revocation_endpoint": .string("\(oidc)/revoke"), "userinfo_endpoint": .string("\(oidc)/userinfo"),
                "authorization_endpoint": .string("\(oidc)/auth"),
                "grant_types_supported": .array(["authorization_code", "client_credentials", "implicit", "password", "refresh_token"].map(JSONValue.string)),
                "token_endpoint_auth_methods_supported": .array(["private_key_jwt", "client_secret_basic", "client_secret_post"].map(JSONValue.string)),
                "id_token_signing_alg_values_supported": .array([.string("RS256")]),
            ]
            for member in omitted.withLock({ $0 }) { document[member] = nil }
            return Self.json(.object(document))
        }
        router.get("/realms/:realm/protocol/openid-connect/certs") { [self] _, context -> Response in
            bump("certs")
            guard let document = jwks(context.parameters.get("realm") ?? "") else { return Self.realmMissing }
            return Self.json(document, headers: [.cacheControl: "no-cache"])
        }
        router.post("/realms/:realm/protocol/openid-connect/token") { [self] request, context -> Response in
            bump("token")
            return try await tokenEndpoint(request, realm: context.parameters.get("realm") ?? "")
        }
        router.get("/realms/:realm/protocol/openid-connect/token") { _, _ -> Response in
            Self.json(.object(["error": .string("HTTP 405 Method Not Allowed")]), status: .methodNotAllowed)
        }
        router.post("/realms/:realm/protocol/openid-connect/logout") { [self] request, context -> Response in
            bump("logout")
            return try await logoutEndpoint(request, realm: context.parameters.get("realm") ?? "")
        }
        router.post("/realms/:realm/protocol/openid-connect/token/introspect") { [self] request, context -> Response in
            bump("introspect")
            return try await introspectEndpoint(request, realm: context.parameters.get("realm") ?? "")
        }
        router.post("/realms/:realm/protocol/openid-connect/revoke") { [self] request, context -> Response in
            bump("revoke")
            return try await revokeEndpoint(request, realm: context.parameters.get("realm") ?? "")
        }
        try await server.start(router)
    }

    /// Stops listening (connections refused) and waits for it; `start()` again reuses the port.
    public func goDown() async { await server.goDown() }

    /// Stops without waiting (for `defer` in synchronous contexts).
    public func stop() { server.stop() }

    struct ModeMiddleware: RouterMiddleware {
        let double: KeycloakDouble
        func handle(_ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
            switch double.mode.withLock({ $0 }) {
            case .normal: return try await next(request, context)
            case .failing: return KeycloakDouble.json(.object(["error": .string("unknown_error")]), status: .internalServerError)
            case .hanging(let delay):
                try await Task.sleep(for: delay)
                return try await next(request, context)
            case .html:
                return Response(
                    status: .ok, headers: [.contentType: "text/html;charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: "<html><body>Sign in</body></html>")))
            }
        }
    }

    func bump(_ endpoint: String) { counters.withLock { $0[endpoint, default: 0] += 1 } }
    func realmExists(_ realm: String) -> Bool { state.withLock { $0.realms[realm] != nil } }

    // MARK: - Token endpoint (keycloak-wire.md §2)

    func tokenEndpoint(_ request: Request, realm: String) async throws -> Response {
        guard realmExists(realm) else { return Self.realmMissing }
        let parsed = try await form(request, path: "token")
        guard case .success(let form) = parsed else { return Self.oauthError(.badRequest, "invalid_request", "duplicated parameter") }
        guard let grant = form["grant_type"] else { return Self.oauthError(.badRequest, "invalid_request", "Missing form parameter: grant_type") }
        guard ["password", "refresh_token", "client_credentials"].contains(grant) else {
            return Self.oauthError(.badRequest, "unsupported_grant_type", "Unsupported grant_type")
        }
        let client: (id: String, client: Client)
        switch authenticateClient(request, form: form, realm: realm) {
        case .failure(let error): return error.response
        case .success(let found): client = found
        }
        switch grant {
        case "password":
            guard client.client.directGrants else { return Self.oauthError(.badRequest, "unauthorized_client", "Client not allowed for direct access grants") }
            guard let username = form["username"] else { return Self.oauthError(.unauthorized, "invalid_request", "Missing parameter: username") }
            let user = state.withLock { $0.realms[realm]!.users[username.lowercased()] }
            guard let user, let password = form["password"], Self.same(password, user.password) else {
                return Self.oauthError(wrongPasswordStatus.withLock { $0 }, "invalid_grant", "Invalid user credentials")
            }
            guard user.enabled else { return Self.oauthError(.badRequest, "invalid_grant", "Account disabled") }
            guard !user.requiredActions else { return Self.oauthError(.badRequest, "invalid_grant", "Account is not fully set up") }
            let scope = form["scope"] ?? ""
            let sid = UUID().uuidString.lowercased()
            state.withLock { $0.sessions[sid] = Session(realm: realm, username: username.lowercased(), clientId: client.id, scope: scope) }
            return try tokenResponse(realm: realm, sid: sid)
        case "refresh_token":
            guard let refresh = form["refresh_token"] else { return Self.oauthError(.badRequest, "invalid_request", "No refresh token") }
            let found = state.withLock { state -> (String, Session)? in
                guard let sid = state.refreshTokens[refresh], let session = state.sessions[sid] else { return nil }
                return (sid, session)
            }
            guard let (sid, session) = found, session.realm == realm else { return Self.oauthError(.badRequest, "invalid_grant", "Invalid refresh token") }
            guard session.clientId == client.id else {
                return Self.oauthError(.badRequest, "invalid_grant", "Invalid refresh token. Token client and authorized client don't match")
            }
            guard session.active else { return Self.oauthError(.badRequest, "invalid_grant", "Session not active") }
            return try tokenResponse(realm: realm, sid: sid)
        default:
            guard client.client.secret != nil else {
                return Self.oauthError(.unauthorized, "unauthorized_client", "Public client not allowed to retrieve service account")
            }
            guard let roles = client.client.serviceAccountRoles else {
                return Self.oauthError(.unauthorized, "unauthorized_client", "Client not enabled to retrieve service account")
            }
            let now = Int64(Date().timeIntervalSince1970)
            let claims: [String: JSONValue] = [
                "exp": .int(now + 300), "iat": .int(now), "jti": .string("trrtcc:" + UUID().uuidString.lowercased()), "iss": .string(issuer(realm)),
                "sub": .string("sa-" + client.id), "typ": .string("Bearer"), "azp": .string(client.id), "acr": .string("1"),
                "realm_access": .object(["roles": .array(roles.map(JSONValue.string))]), "scope": .string("profile email"),
                "preferred_username": .string("service-account-\(client.id)"), "client_id": .string(client.id),
            ]
            return Self.json(
                .object([
                    "access_token": .string(try token(realm, claims: claims)), "expires_in": .int(300), "refresh_expires_in": .int(0),
                    "token_type": .string("Bearer"), "not-before-policy": .int(0), "scope": .string("profile email"),
                ]), headers: Self.noStore)
        }
    }

    func tokenResponse(realm: String, sid: String) throws -> Response {
        let (session, user, client) = state.withLock { state in
            let session = state.sessions[sid]!
            return (session, state.realms[realm]!.users[session.username]!, state.realms[realm]!.clients[session.clientId]!)
        }
        let now = Int64(Date().timeIntervalSince1970)
        let granted = (["profile", "email"] + (session.scope.split(separator: " ").contains("openid") ? ["openid"] : [])).sorted().joined(separator: " ")
        var claims: [String: JSONValue] = [
            "exp": .int(now + accessTokenLifespan), "iat": .int(now), "jti": .string("onrtro:" + UUID().uuidString.lowercased()),
            "iss": .string(issuer(realm)), "typ": .string("Bearer"), "azp": .string(session.clientId), "sid": .string(sid), "scope": .string(granted),
        ]
        if !client.lightweight {
            claims["sub"] = .string(user.id)
            claims["aud"] = .string("account")
            claims["acr"] = .string("1")
            claims["realm_access"] = .object(["roles": .array((["default-roles-\(realm)", "offline_access"] + user.roles).map(JSONValue.string))])
            claims["preferred_username"] = .string(session.username)
            if let email = user.email {
                claims["email"] = .string(email)
                claims["email_verified"] = .bool(true)
            }
            if let phone = user.phone { claims["phone_number"] = .string(phone) }
        }
        let refresh = Self.opaqueRefreshToken()
        state.withLock { $0.refreshTokens[refresh] = sid }
        var body: [String: JSONValue] = [
            "access_token": .string(try token(realm, claims: claims)), "expires_in": .int(accessTokenLifespan), "refresh_expires_in": .int(1800),
            "refresh_token": .string(refresh), "token_type": .string("Bearer"), "not-before-policy": .int(0), "session_state": .string(sid),
            "scope": .string(granted),
        ]
        if granted.split(separator: " ").contains("openid") {
            var idClaims = claims
            idClaims["typ"] = .string("ID")
            idClaims["aud"] = .string(session.clientId)
            body["id_token"] = .string(try token(realm, claims: idClaims))
        }
        return Self.json(.object(body), headers: Self.noStore)
    }

    /// HS512-looking and opaque, as Keycloak's refresh tokens are to clients.
    static func opaqueRefreshToken() -> String {
        let header = Base64URL.encode(Array("{\"alg\":\"HS512\",\"typ\" : \"JWT\",\"kid\" : \"\(UUID().uuidString.lowercased())\"}".utf8))
        let payload = Base64URL.encode(Array("{\"typ\":\"Refresh\",\"jti\":\"\(UUID().uuidString.lowercased())\"}".utf8))
        return header + "." + payload + "." + Base64URL.encode((0..<64).map { _ in UInt8.random(in: 0...255) })
    }

    // MARK: - Logout, introspection, revocation (§6, §7, §8)

    func logoutEndpoint(_ request: Request, realm: String) async throws -> Response {
        guard realmExists(realm) else { return Self.realmMissing }
        guard case .success(let form) = try await form(request, path: "logout") else {
            return Self.oauthError(.badRequest, "invalid_request", "duplicated parameter")
        }
        guard let refresh = form["refresh_token"] else {
            return Response(status: .ok, headers: [.contentType: "text/html;charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "<html>logout</html>")))
        }
        let client: (id: String, client: Client)
        switch authenticateClient(request, form: form, realm: realm) {
        case .failure(let error): return error.response
        case .success(let found): client = found
        }
        let session = state.withLock { state -> (String, Session)? in
            guard let sid = state.refreshTokens[refresh], let session = state.sessions[sid] else { return nil }
            return (sid, session)
        }
        guard let (sid, found) = session, found.realm == realm else { return Self.oauthError(.badRequest, "invalid_grant", "Invalid refresh token") }
        guard found.clientId == client.id else {
            return Self.oauthError(.badRequest, "invalid_grant", "Invalid refresh token. Token client and authorized client don't match")
        }
        state.withLock { $0.sessions[sid]?.active = false }
        return Response(status: .noContent)
    }

    func introspectEndpoint(_ request: Request, realm: String) async throws -> Response {
        guard realmExists(realm) else { return Self.realmMissing }
        guard case .success(let form) = try await form(request, path: "introspect") else {
            return Self.oauthError(.badRequest, "invalid_request", "duplicated parameter")
        }
        guard case .success(let client) = authenticateClient(request, form: form, realm: realm) else {
            return Self.oauthError(.unauthorized, "invalid_request", "Authentication failed.")
        }
        guard client.client.secret != nil else { return Self.oauthError(.forbidden, "invalid_request", "Client not allowed.") }
        guard let token = form["token"] else { return Self.oauthError(.badRequest, "invalid_request", "Token not provided.") }
        guard let claims = verifiedClaims(token, realm: realm) else { return Self.json(.object(["active": .bool(false)])) }
        var answer = claims
        // Introspection rebuilds claims from mappers, so it carries the roles a lightweight token lacks.
        let found = state.withLock { state -> (Session, User)? in
            guard let sid = claims["sid"]?.stringValue, let session = state.sessions[sid], let user = state.realms[realm]!.users[session.username] else { return nil }
            return (session, user)
        }
        if let (session, user) = found {
            guard session.active else { return Self.json(.object(["active": .bool(false)])) }
            answer["sub"] = .string(user.id)
            answer["realm_access"] = .object(["roles": .array((["default-roles-\(realm)", "offline_access"] + user.roles).map(JSONValue.string))])
            answer["username"] = .string(session.username)
            answer["preferred_username"] = .string(session.username)
        }
        answer["client_id"] = claims["azp"] ?? .string(client.id)
        answer["token_type"] = .string("Bearer")
        answer["active"] = .bool(true)
        return Self.json(.object(answer))
    }

    func revokeEndpoint(_ request: Request, realm: String) async throws -> Response {
        guard realmExists(realm) else { return Self.realmMissing }
        guard case .success(let form) = try await form(request, path: "revoke") else {
            return Self.oauthError(.badRequest, "invalid_request", "duplicated parameter")
        }
        if case .failure(let error) = authenticateClient(request, form: form, realm: realm) { return error.response }
        guard let token = form["token"] else { return Self.oauthError(.badRequest, "invalid_request", "Token not provided") }
        let ended = state.withLock { state -> Bool in
            guard let sid = state.refreshTokens[token], state.sessions[sid] != nil else { return false }
            state.sessions[sid]!.active = false
            return true
        }
        if ended { return Response(status: .ok) }
        if let claims = verifiedClaims(token, realm: realm), let jti = claims["jti"]?.stringValue {
            state.withLock { _ = $0.revokedJTIs.insert(jti) }
            return Response(status: .ok)
        }
        return Self.json(.object(["error": .string("invalid_token"), "error_description": .string("Invalid token")]))
    }

    /// Claims of an access token this double signed for `realm`, if it is unexpired and not revoked.
    func verifiedClaims(_ token: String, realm: String) -> [String: JSONValue]? {
        let keys = state.withLock { $0.realms[realm]!.signing }
        for (kid, key) in keys {
            if let verified = try? JWS.verify(token, key: { $0 == kid ? key.publicKey : nil }) {
                let now = Int64(Date().timeIntervalSince1970)
                guard (verified.claims["exp"]?.intValue ?? 0) > now else { return nil }
                if let jti = verified.claims["jti"]?.stringValue, state.withLock({ $0.revokedJTIs.contains(jti) }) { return nil }
                return verified.claims.dictionary
            }
        }
        return nil
    }

    // MARK: - Client authentication (§2, `client-secret` authenticator)

    func authenticateClient(_ request: Request, form: [String: String], realm: String) -> Result<(id: String, client: Client), ErrorResponse> {
        var id = form["client_id"]
        var secret = form["client_secret"]
        if let header = request.headers[.authorization] {
            if header.lowercased().hasPrefix("basic "), let data = Data(base64Encoded: String(header.dropFirst(6))),
                let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
            {
                // A form client_id/client_secret overrides the Basic header.
                id = id ?? String(text[..<colon]).removingPercentEncoding
                secret = secret ?? String(text[text.index(after: colon)...]).removingPercentEncoding
            } else if id == nil {
                return .failure(ErrorResponse(Response(status: .unauthorized, headers: [.wwwAuthenticate: "Basic realm=\"\(realm)\""])))
            }
        }
        guard let id else { return .failure(ErrorResponse(Self.oauthError(.badRequest, "invalid_client", "Missing client_id parameter"))) }
        guard let client = state.withLock({ $0.realms[realm]!.clients[id] }) else {
            return .failure(ErrorResponse(Self.oauthError(.unauthorized, "invalid_client", "Invalid client or Invalid client credentials")))
        }
        if let expected = client.secret {
            guard let secret, Self.same(secret, expected) else {
                return .failure(ErrorResponse(Self.oauthError(.unauthorized, "unauthorized_client", "Invalid client or Invalid client credentials")))
            }
        }
        return .success((id, client))
    }

    struct ErrorResponse: Error {
        let response: Response
        init(_ response: Response) { self.response = response }
    }

    enum FormResult { case success([String: String]), duplicate }

    /// Parses a form body; a parameter sent twice is Keycloak's 400 `duplicated parameter`.
    func form(_ request: Request, path: String) async throws -> FormResult {
        let body = try await request.body.collect(upTo: 1 << 20)
        var fields = [String: String]()
        for pair in String(buffer: body).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            let value = parts.count > 1 ? (String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "") : ""
            if fields.updateValue(value, forKey: name) != nil { return .duplicate }
        }
        let authorization = request.headers[.authorization]
        requestLog.withLock { $0.append((path, fields, authorization)) }
        let traceparents = HTTPField.Name("traceparent").map { request.headers[values: $0] } ?? []
        traceparentLog.withLock { $0.append((path, traceparents)) }
        return .success(fields)
    }

    static func same(_ a: String, _ b: String) -> Bool { Array(a.utf8) == Array(b.utf8) }

    static let noStore: HTTPFields = [.cacheControl: "no-store", .init("Pragma")!: "no-cache"]
    static var realmMissing: Response { json(.object(["error": .string("Realm does not exist")]), status: .notFound) }

    static func oauthError(_ status: HTTPResponse.Status, _ error: String, _ description: String) -> Response {
        json(.object(["error": .string(error), "error_description": .string(description)]), status: status, headers: noStore)
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: value.serialized())))
    }
}
