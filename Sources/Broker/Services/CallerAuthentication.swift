import Hummingbird
import TenantRegistry
import Tokens

/// Who a request's credentials stand for. API keys (from memory: no database round trip), cx-tenant tokens
/// (no I/O) and Keycloak access tokens; the OAuth endpoints' client authentication by any of the contract's
/// three methods. The authentication middleware and the OAuth routes share it, so every way of presenting
/// an API key ends in the same check.
struct CallerAuthentication: Sendable {
    let service: TenantService
    let verifier: TokenVerifier
    let keycloak: KeycloakCallerVerifier

    /// The caller of a `/v1` request's `Authorization: Bearer` credential, or nil (the policy answers 401).
    func caller(bearer presented: String) async -> CallerIdentity? {
        if !presented.hasPrefix("tbk_"), !presented.isEmpty { return await tokenCaller(presented) }
        return await apiKey(presented)
    }

    /// The caller an API key (`tbk_<id>_<secret>`) stands for, or nil for a malformed, unknown, revoked or wrong key.
    func apiKey(_ presented: String) async -> CallerIdentity? {
        guard let parts = APIKeyRecord.parse(presented), let record = await service.authenticateAPIKey(id: parts.id, secret: parts.secret) else {
            return nil
        }
        return CallerIdentity(apiKey: record)
    }

    /// A caller from a cx-tenant token (role `tenant-admin` administers its tenant) or a Keycloak token.
    func tokenCaller(_ token: String) async -> CallerIdentity? {
        if case .success(let verified) = verifier.verify(token) { return CallerIdentity(cxToken: verified) }
        return await keycloak.identify(token)
    }

    /// Client authentication at `/oauth2/*` with an API key, by exactly one of: `Authorization: Bearer tbk_<id>_<secret>`,
    /// HTTP Basic `tbk_<id>:<secret>`, or `client_id=tbk_<id>` + `client_secret` in the form.
    func client(_ request: Request, form: [String: String]) async throws(OAuthFailure) -> CallerIdentity {
        let basic = FormBody.basicCredentials(request)
        // A Bearer header that cannot be parsed (too long, empty) is still a Bearer attempt: it fails as one.
        let bearer = request.headers[.authorization].flatMap { header in
            header.utf8.prefix(7).map { $0 | 0x20 } == Array("bearer ".utf8) ? Self.bearer(header) ?? "" : nil
        }
        let formId = form["client_id"]
        let formSecret = form["client_secret"]
        if [basic != nil, bearer != nil, formSecret != nil].filter({ $0 }).count > 1 {
            throw .invalidRequest("use one client authentication method, not two")
        }
        let failed = OAuthFailure.invalidClient(bearer: bearer != nil)
        let presented: String
        if let bearer {
            presented = bearer
        } else {
            guard let id = basic?.id ?? formId, let secret = basic?.secret ?? formSecret, id.hasPrefix("tbk_") else { throw failed }
            presented = id + "_" + secret
        }
        // A client_id beside the credential must name the same key.
        if let formId, let parts = APIKeyRecord.parse(presented), formId != "tbk_" + parts.id { throw failed }
        guard let caller = await apiKey(presented) else { throw failed }
        return caller
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
}
