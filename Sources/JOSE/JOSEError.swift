/// Why a token, key or key set was refused. Descriptions are safe to return to clients:
/// they never contain the token, key material or claim values.
public enum JOSEError: Error, Equatable, Sendable, CustomStringConvertible {
    case tokenTooLarge
    case malformed(String)
    case invalidBase64URL(String)
    case invalidJSON(String)
    case headerNotAllowed(String)
    case algorithmNotAllowed(String)
    case missingKeyID
    case unknownKeyID
    case algorithmMismatch
    case invalidSignature
    case expired
    case notYetValid
    case issuedInFuture
    case invalidIssuer
    case invalidAudience
    case invalidType
    case missingClaim(String)
    case invalidClaim(String)
    case invalidKey(String)
    case cryptoFailure(String)

    public var description: String {
        switch self {
        case .tokenTooLarge: return "token exceeds the size limit"
        case .malformed(let what): return "malformed token: \(what)"
        case .invalidBase64URL(let part): return "\(part) is not canonical base64url"
        case .invalidJSON(let part): return "\(part) is not a valid JSON object"
        case .headerNotAllowed(let name): return "header parameter '\(name)' is not accepted"
        case .algorithmNotAllowed(let alg):
            // The value comes from the token: show it only when it is short and plain.
            let shown = alg.utf8.count <= 16 && alg.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x27 }) ? " '\(alg)'" : ""
            return "algorithm\(shown) is not accepted"
        case .missingKeyID: return "token has no kid"
        case .unknownKeyID: return "no key with this kid"
        case .algorithmMismatch: return "token alg does not match the key's algorithm"
        case .invalidSignature: return "signature does not verify"
        case .expired: return "token has expired"
        case .notYetValid: return "token is not yet valid"
        case .issuedInFuture: return "token was issued in the future"
        case .invalidIssuer: return "issuer is not accepted"
        case .invalidAudience: return "audience is not accepted"
        case .invalidType: return "token type is not accepted"
        case .missingClaim(let name): return "claim '\(name)' is missing"
        case .invalidClaim(let name): return "claim '\(name)' has an invalid value"
        case .invalidKey(let why): return "invalid key: \(why)"
        case .cryptoFailure(let what): return "cryptographic operation failed: \(what)"
        }
    }
}
