/// A public JSON Web Key (RFC 7517) for EC P-256, RSA or OKP Ed25519.
public struct JWK: Sendable, Equatable {
    /// Key type: `EC`, `RSA` or `OKP`.
    public var kty: String
    /// Curve for EC and OKP keys.
    public var crv: String?
    public var x: String?
    public var y: String?
    public var n: String?
    public var e: String?
    public var kid: String?
    public var alg: String?
    public var use: String?

    /// A JWK with the given members.
    public init(
        kty: String, crv: String? = nil, x: String? = nil, y: String? = nil, n: String? = nil, e: String? = nil,
        kid: String? = nil, alg: String? = nil, use: String? = nil
    ) {
        self.kty = kty
        self.crv = crv
        self.x = x
        self.y = y
        self.n = n
        self.e = e
        self.kid = kid
        self.alg = alg
        self.use = use
    }

    /// Reads a JWK from a parsed JSON object; refuses private members and unknown key types.
    public init(json: [String: JSONValue]) throws(JOSEError) {
        func member(_ name: String) throws(JOSEError) -> String? {
            guard let value = json[name] else { return nil }
            guard let string = value.stringValue else { throw .invalidKey("'\(name)' must be a string") }
            return string
        }
        guard let kty = try member("kty") else { throw .invalidKey("'kty' is missing") }
        for secret in ["d", "p", "q", "dp", "dq", "qi", "k"] where json[secret] != nil {
            throw .invalidKey("a public JWK must not carry '\(secret)'")
        }
        self.init(
            kty: kty, crv: try member("crv"), x: try member("x"), y: try member("y"), n: try member("n"),
            e: try member("e"), kid: try member("kid"), alg: try member("alg"), use: try member("use"))
    }

    /// The members that define the key, as RFC 7638 lists them for its type.
    var requiredMembers: [String: JSONValue] {
        switch kty {
        case "EC": return ["crv": .string(crv ?? ""), "kty": .string(kty), "x": .string(x ?? ""), "y": .string(y ?? "")]
        case "RSA": return ["e": .string(e ?? ""), "kty": .string(kty), "n": .string(n ?? "")]
        default: return ["crv": .string(crv ?? ""), "kty": .string(kty), "x": .string(x ?? "")]
        }
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url: the broker's `kid` for its own keys.
    public func thumbprint() -> String {
        Base64URL.encode(Crypto.sha256(JSONValue.object(requiredMembers).serialized()))
    }

    /// The JWK as a JSON object, with `kid`, `alg` and `use` when set.
    public var json: JSONValue {
        var members = requiredMembers
        if let kid { members["kid"] = .string(kid) }
        if let alg { members["alg"] = .string(alg) }
        if let use { members["use"] = .string(use) }
        return .object(members)
    }
}
