import HTTPTypes
import JOSE
import TenantRegistry
import Tokens

/// `POST /v1/tenants/{tenantId}/token` once the caller is known and the body read: validates the body, mints,
/// counts, and builds the answer. Synchronous and free of I/O, so the router's handler and the event loop's
/// fast path (`MintFastPath`) share it, and with it every rule and the exact bytes of the answer.
struct MintV1: Sendable {
    let issuer: TokenIssuer
    let metrics: BrokerMetrics
    /// Which tenants are labelled in metrics (reloadable).
    let runtime: RuntimeSettings

    /// A mint's answer: 200 with the token, or 429 when the tenant's mint limit is used up; the headers the
    /// handler sets (the server adds `Content-Length`) and the JSON body.
    struct Answer {
        var status: HTTPResponse.Status = .ok
        let headers: HTTPFields
        let body: [UInt8]
    }

    static let fields: Set<String> = ["audience", "scope", "ttl", "roles", "subtenant"]

    /// The answer for `caller` (already allowed `token:mint` on `tenantId`) and the request's body bytes (empty:
    /// no body). Throws `APIError` or `ValidationFailure` for a bad body, `TokenIssuer.Refusal` for a tenant that cannot have tokens.
    func answer(caller: CallerIdentity, tenantId: String, body bytes: [UInt8]) throws -> Answer {
        let body = bytes.isEmpty ? [:] : try RequestBody.object(bytes: bytes, maxDepth: 8)
        var errors = FieldError.unknownFields(in: body, allowed: Self.fields)
        var subtenant: String?
        switch body["subtenant"] {
        case nil, .null?: break
        case .string(let value)? where TenantRules.isValidTenantId(value): subtenant = value
        default: errors.append(FieldError("subtenant", "must be a subtenant id: 1-63 lowercase letters, digits or '-', starting with a letter"))
        }
        var audience: String?
        switch body["audience"] {
        case nil, .null?: break
        case .string(let value)?: audience = value
        default: errors.append(FieldError("audience", "must be a string"))
        }
        var scope: [String]?
        switch body["scope"] {
        case nil, .null?: break
        case .string(let value)? where value.utf8.count <= 1024: scope = value.split(separator: " ").map(String.init)
        default: errors.append(FieldError("scope", "must be a space-separated string of at most 1024 characters"))
        }
        var ttl: Int?
        switch body["ttl"] {
        case nil, .null?: break
        case .int(let value)?: ttl = Int(clamping: value)
        default: errors.append(FieldError("ttl", "must be a whole number of seconds"))
        }
        var roles: [String]?
        switch body["roles"] {
        case nil, .null?: break
        case .array(let items)? where items.count <= 64:
            roles = []
            for (index, item) in items.enumerated() {
                if case .string(let role) = item, (1...128).contains(role.utf8.count),
                    role.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || "._:-".utf8.contains($0) })
                {
                    roles!.append(role)
                } else {
                    errors.append(FieldError("roles[\(index)]", "must be 1-128 letters, digits or . _ : -"))
                }
            }
        default: errors.append(FieldError("roles", "must be an array of at most 64 strings"))
        }
        if !errors.isEmpty { throw ValidationFailure(errors) }
        let minted: TokenIssuer.Minted
        do {
            minted = try issuer.mint(
                caller: caller, tenantId: tenantId, audience: audience, scope: scope, roles: roles, ttl: ttl, subtenant: subtenant)
        } catch {
            guard case .rateLimited = error else { throw error }
            // An answer, not an error: the fast path sends it as it is, so a refusal never pays for the router.
            metrics.recordRateLimited(route: RoutePaths.mintLabel, limit: TokenIssuer.mintPolicy, tenant: runtime.metricsTenantLabel(tenantId))
            let problem = error.problem
            return Answer(status: problem.status, headers: problem.answerFields, body: problem.body.serialized())
        }
        metrics.recordMint(endpoint: "v1", tenant: runtime.metricsTenantLabel(minted.tenant.tenantId))
        // In key order, as serialising a dictionary of these members would give them, without building one.
        var answer = JSONObjectWriter(capacity: 1024)
        answer.member("access_token", string: minted.token)
        answer.member("expires_in", int: Int64(minted.expiresIn))
        answer.member("scope", string: minted.scope)
        if let subtenant = minted.subtenantId { answer.member("subtenant_id", string: subtenant) }
        answer.member("tenant_domain", string: minted.tenant.domain)
        answer.member("tenant_id", string: minted.tenant.tenantId)
        answer.member("token_type", string: "Bearer")
        return Answer(headers: JSONResponse.fields(TokenRoutes.headers(minted)), body: answer.bytes())
    }
}
