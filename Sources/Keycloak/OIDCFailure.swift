/// Why a call to the provider did not give what was asked. The associated text is for the log only:
/// it never contains the provider's body, a token or a password.
public enum OIDCFailure: Error, Sendable, Equatable {
    /// Wrong user or password, a locked user, or any other refusal of the credentials.
    case invalidCredentials(String)
    /// The provider refused the broker's client, not the user's password (`invalid_client`,
    /// `unauthorized_client`, `invalid_scope`, `invalid_request`: a wrong or rotated client secret, direct
    /// grants off, an unknown scope). Answered as `invalidCredentials` (the contract's 401 for every other
    /// 4xx), but it judges no password, so the failed-login throttle does not count it.
    case clientRefused(String)
    case accountDisabled
    case accountSetupRequired
    /// The refresh token is unknown, expired or its session has ended.
    case invalidRefreshToken(String)
    /// The provider could not be reached, answered 5xx, garbage, or took too long.
    case unavailable(String)
    /// The provider does not offer what the call needs (no token or introspection endpoint).
    case unsupported(String)

    public var logDescription: String {
        switch self {
        case .invalidCredentials(let why): return "credentials refused (\(why))"
        case .clientRefused(let why): return "the broker's client was refused, not the password (\(why)): check the client's id, secret, direct grants and scope"
        case .accountDisabled: return "account disabled"
        case .accountSetupRequired: return "account is not fully set up"
        case .invalidRefreshToken(let why): return "refresh token refused (\(why))"
        case .unavailable(let why): return "provider unavailable (\(why))"
        case .unsupported(let why): return "not supported by the provider (\(why))"
        }
    }
}
