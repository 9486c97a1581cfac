/// Checks the registered claims of a verified JWT (RFC 7519 §4.1) and its header `typ`.
///
/// Unlike libraries that validate only what a caller remembers to ask for, `exp` is always required
/// and every time claim present must be a number.
public struct ClaimsValidator: Sendable {
    /// Accepted issuers; nil skips the check.
    public var issuers: Set<String>?
    /// The token's `aud` (string or array) must contain one of these; nil skips the check.
    public var audiences: Set<String>?
    /// Accepted header `typ` values, compared case-insensitively with any `application/` prefix removed; nil skips.
    public var types: Set<String>?
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    public var leeway: Double

    /// A validator with the given expectations.
    public init(issuers: Set<String>? = nil, audiences: Set<String>? = nil, types: Set<String>? = nil, leeway: Double = 60) {
        self.issuers = issuers
        self.audiences = audiences
        self.types = types.map { Set($0.map(ClaimsValidator.normalizedType)) }
        self.leeway = leeway
    }

    static func normalizedType(_ value: String) -> String {
        let lower = value.lowercased()
        return lower.hasPrefix("application/") ? String(lower.dropFirst("application/".count)) : lower
    }

    /// Throws the first rule `token` breaks at time `now` (seconds since 1970).
    public func validate(_ token: VerifiedJWT, now: Double) throws(JOSEError) {
        if let types {
            guard let typ = token.type, types.contains(Self.normalizedType(typ)) else {
                throw .invalidType
            }
        }
        let claims = token.claims
        guard let expValue = claims["exp"] else { throw .missingClaim("exp") }
        guard let exp = expValue.numberValue else { throw .invalidClaim("exp") }
        if now >= exp + leeway { throw .expired }
        if let nbfValue = claims["nbf"] {
            guard let nbf = nbfValue.numberValue else { throw .invalidClaim("nbf") }
            if now + leeway < nbf { throw .notYetValid }
        }
        if let iatValue = claims["iat"] {
            guard let iat = iatValue.numberValue else { throw .invalidClaim("iat") }
            if iat > now + leeway { throw .issuedInFuture }
        }
        if let issuers {
            guard let iss = claims["iss"]?.stringValue, issuers.contains(iss) else { throw .invalidIssuer }
        }
        if let audiences {
            let tokenAudiences: [String]
            switch claims["aud"] {
            case .string(let single): tokenAudiences = [single]
            case .array(let many): tokenAudiences = many.compactMap(\.stringValue)
            default: throw .invalidAudience
            }
            guard tokenAudiences.contains(where: audiences.contains) else { throw .invalidAudience }
        }
    }
}
