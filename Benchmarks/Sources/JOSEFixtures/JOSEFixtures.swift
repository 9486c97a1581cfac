/// Keys, tokens and the measured operations shared by the JOSE benchmarks: `JOSEBenchmarks` (ordo-one,
/// one operation per sample, with malloc counts) and `jose-speed` (a timed loop measured the way
/// `openssl speed` measures, for the ratios). Both run exactly these closures, so the two reports
/// measure the same code. Keys (RSA 2048, P-256, Ed25519) are generated once, outside any measurement.
import JOSE
import Keycloak
import Logging

/// A Keycloak-shaped RS256 access token and a JWKS cache primed with its realm key.
/// Header byte-exact as Keycloak writes it (spaces around the colons); ~700 B of claims.
public struct KeycloakFixture: Sendable {
    public static let issuer = "https://keycloak.expertflow.com/realms/master"
    public static let jwksURL = issuer + "/protocol/openid-connect/certs"
    public let token: String
    public let cache: JWKSCache
    public let now: Double
    public let validator: ClaimsValidator

    public init() {
        let key = try! JWSPrivateKey.generate(.rs256)
        let kid = key.publicKey.kid
        now = 1_767_225_600
        let claims: [String: JSONValue] = [
            "exp": .int(Int64(now) + 60), "iat": .int(Int64(now)), "auth_time": .int(Int64(now)), "jti": .string("onrtro:7c1d2b58-6a0e-4c1f-9d77-2f7e8e3b9c10"),
            "iss": .string(Self.issuer), "aud": .string("account"), "sub": .string("4a0c2b58-6a0e-4c1f-9d77-2f7e8e3b9c10"), "typ": .string("Bearer"),
            "azp": .string("token-broker"), "sid": .string("b6f1e0f4-2c1e-4d07-9c41-5f3c8a9d2e11"), "acr": .string("1"),
            "realm_access": .object(["roles": .array(["default-roles-master", "offline_access", "uma_authorization", "admin"].map(JSONValue.string))]),
            "scope": .string("openid profile email"), "email_verified": .bool(true), "preferred_username": .string("ada"), "email": .string("ada@example.com"),
        ]
        let header = "{\"alg\":\"RS256\",\"typ\" : \"JWT\",\"kid\" : \"\(kid)\"}"
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(JSONValue.object(claims).serialized())
        token = input + "." + Base64URL.encode(try! key.sign(Array(input.utf8)))
        cache = JWKSCache(logger: Logger(label: "bench"))
        cache.prime(jwksURL: Self.jwksURL, keys: JWKSet(keys: [key.publicKey]))
        validator = ClaimsValidator(issuers: [Self.issuer], leeway: 60)
    }

    /// What the broker does with a Keycloak access token whose realm key is cached (a JWKS cache hit), as
    /// KeycloakCallerVerifier's fast path: kid → the one cached key set that has it (memory, no I/O), the
    /// signature, the claims parse; then the claims check (iss, exp, iat with leeway) and that the verified
    /// issuer names that key set. Traps if the token does not verify, so a broken fixture cannot look fast.
    @inline(never)
    public func verify() -> VerifiedJWT {
        var keySet: String?
        let verified = try! JWS.verify(token) { kid in
            let found = cache.cachedKey(kid: kid)
            keySet = found?.jwksURL
            return found?.key
        }
        precondition(verified.claims["iss"]?.stringValue == Self.issuer && keySet == Self.jwksURL)
        try! validator.validate(verified, now: now)
        return verified
    }
}

/// A key and a typical cx-tenant access token (`typ: at+jwt`) signed with it.
public struct Fixture: Sendable {
    public let key: JWSPrivateKey
    public let publicKey: JWSPublicKey
    public let claims: [String: JSONValue]
    public let token: String

    public init(_ algorithm: JWSAlgorithm) {
        key = try! JWSPrivateKey.generate(algorithm)
        publicKey = key.publicKey
        let now = Int64(1_760_000_000)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        claims = [
            "iss": .string("http://127.0.0.1:8080"),
            "sub": .string("svc-routing"),
            "aud": .string("https://tenant1.expertflow.com"),
            "exp": .int(now + 300),
            "iat": .int(now),
            "nbf": .int(now),
            "jti": .string(String((0..<22).map { _ in alphabet.randomElement()! })),
            "client_id": .string("tbk_routing"),
            "tenant_id": .string("tenant1"),
            "tenant_domain": .string("tenant1.expertflow.com"),
            "scope": .string("token:mint otp"),
            "roles": .array([.string("agent"), .string("supervisor")]),
        ]
        token = try! JWS.sign(claims: claims, key: key, type: "at+jwt")
    }

    /// Claims JSON serialization, header and base64url encoding, SHA-256 and the signature.
    @inline(never)
    public func sign() -> String {
        try! JWS.sign(claims: claims, key: key, type: "at+jwt")
    }

    /// Split, header parse, key lookup by `kid`, signature check and claims parse. Traps on failure.
    @inline(never)
    public func verify() -> VerifiedJWT {
        let kid = publicKey.kid
        return try! JWS.verify(token) { $0 == kid ? publicKey : nil }
    }
}

public enum JOSEFixtures {
    public static let algorithms: [JWSAlgorithm] = [.es256, .rs256, .ps256, .edDSA]
    /// Built lazily (global), so listing the benchmarks generates no keys.
    public static let fixtures: [JWSAlgorithm: Fixture] = Dictionary(
        uniqueKeysWithValues: algorithms.map { ($0, Fixture($0)) })
    public static let keycloak = KeycloakFixture()
}
