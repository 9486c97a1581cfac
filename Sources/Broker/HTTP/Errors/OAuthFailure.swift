import Tokens
/// The OAuth endpoints' failures (RFC 6749 §5.2, RFC 7009, RFC 7662, RFC 8693); mapped in `ErrorMapping`.
/// `description` is written for the client (`error_description`) and never holds secrets or upstream bodies.
enum OAuthFailure: Error, Sendable {
    case invalidRequest(String)
    /// The form body is over the limit (413).
    case bodyTooLarge
    case unsupportedGrantType(String)
    /// The client is known but may not use this grant (400 `unauthorized_client`).
    case grantNotAllowed(String)
    case invalidTarget(String)
    case invalidGrant(String?)
    /// Client authentication failed; `bearer`: it was attempted with a Bearer header (the challenge names that scheme).
    case invalidClient(bearer: Bool)
    /// The client may not introspect (403 `insufficient_scope`).
    case insufficientScope(String)
    /// The client may not revoke that token (403 `unauthorized_client`).
    case revocationNotAllowed
    /// The tenant's mint limit is used up (429 `slow_down`).
    case slowDown(RateDecision)
}
