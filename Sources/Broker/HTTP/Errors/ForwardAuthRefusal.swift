/// Forward-auth's refusals (`GET /v1/verify`): answered without a body, the reason in `WWW-Authenticate`
/// (RFC 6750 §3); mapped to their response in `ErrorMapping`.
enum ForwardAuthRefusal: Sendable {
    /// No bearer token (401, no error code: RFC 6750 §3.1).
    case missingToken
    /// The token is not valid; the reason is safe for `error_description`.
    case invalidToken(String)
    /// `--require-tenant-hint` is on and the request names no tenant (403).
    case noTenantHint
    /// A tenant hint names another tenant than the token's (403).
    case wrongTenant
    /// A subtenant hint names another subtenant than the token's, or the token has none (403).
    case wrongSubtenant
}
