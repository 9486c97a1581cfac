internal import COpenSSL

/// The signature algorithms the broker signs and verifies with. HMAC and `none` are deliberately absent.
public enum JWSAlgorithm: String, Sendable, CaseIterable, Codable {
    case es256 = "ES256"
    case rs256 = "RS256"
    case ps256 = "PS256"
    case edDSA = "EdDSA"

    var shimID: Int32 {
        switch self {
        case .es256: return Int32(TB_ALG_ES256)
        case .rs256: return Int32(TB_ALG_RS256)
        case .ps256: return Int32(TB_ALG_PS256)
        case .edDSA: return Int32(TB_ALG_EDDSA)
        }
    }

    /// The JWK `kty` of keys for this algorithm.
    public var keyType: String {
        switch self {
        case .es256: return "EC"
        case .rs256, .ps256: return "RSA"
        case .edDSA: return "OKP"
        }
    }

    /// Parses a JOSE `alg` value, case-sensitively as RFC 7515 requires.
    public init?(jose value: String) {
        self.init(rawValue: value)
    }
}
