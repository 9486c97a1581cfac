/// JOSE signing and verification throughput, single thread, one operation per sample.
///
/// For each algorithm (ES256, RS256, PS256, EdDSA):
/// - "sign <ALG>": `JWS.sign(claims:key:type:)` of a typical cx-tenant access token (`typ: at+jwt`),
///   i.e. claims JSON serialization, header and base64url encoding, SHA-256 and the signature.
/// - "verify <ALG>": `JWS.verify(_:key:)` of a token signed once beforehand, i.e. split, header parse,
///   key lookup by `kid`, signature check and claims parse.
/// - "verify KeycloakRS256" (a JWKS cache hit): what the broker does with a Keycloak access token whose realm key
///   is cached: one pass that parses the header, finds the key by kid in `JWKSCache` (memory, no I/O), verifies
///   the signature and parses the claims; then the claims check (iss, exp, iat with leeway) and that the issuer
///   names that key set. Header byte-exact as Keycloak
///   writes it (spaces around the colons).
/// Keys (RSA 2048, P-256, Ed25519) are generated once, outside the measured region.
/// `scripts/bench-crypto.sh` compares the results with `openssl speed`.
import Benchmark
import JOSE
import Keycloak
import Logging

/// A Keycloak-shaped RS256 access token and a JWKS cache primed with its realm key.
struct KeycloakFixture: Sendable {
    static let issuer = "https://keycloak.expertflow.com/realms/master"
    static let jwksURL = issuer + "/protocol/openid-connect/certs"
    let token: String
    let cache: JWKSCache
    let now: Double

    init() {
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
    }
}

let keycloakFixture = KeycloakFixture()

/// A key and a token signed with it, made once per algorithm on first use.
struct Fixture: Sendable {
    let key: JWSPrivateKey
    let claims: [String: JSONValue]
    let token: String

    init(_ algorithm: JWSAlgorithm) {
        key = try! JWSPrivateKey.generate(algorithm)
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
}

/// Built lazily (global), so listing the benchmarks generates no keys.
let fixtures: [JWSAlgorithm: Fixture] = Dictionary(
    uniqueKeysWithValues: [JWSAlgorithm.es256, .rs256, .ps256, .edDSA].map { ($0, Fixture($0)) })

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 20,
        scalingFactor: .one,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )

    Benchmark("verify KeycloakRS256") { benchmark in
        let fixture = keycloakFixture
        let validator = ClaimsValidator(issuers: [KeycloakFixture.issuer], leeway: 60)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            // As KeycloakCallerVerifier's fast path: kid → the one cached key set that has it, signature, then the
            // verified issuer must be trusted and name that key set.
            var keySet: String?
            let verified = try! JWS.verify(fixture.token) { kid in
                let found = fixture.cache.cachedKey(kid: kid)
                keySet = found?.jwksURL
                return found?.key
            }
            precondition(verified.claims["iss"]?.stringValue == KeycloakFixture.issuer && keySet == KeycloakFixture.jwksURL)
            try! validator.validate(verified, now: fixture.now)
            blackHole(verified)
        }
    }

    for algorithm in [JWSAlgorithm.es256, .rs256, .ps256, .edDSA] {
        Benchmark("sign \(algorithm.rawValue)") { benchmark in
            let fixture = fixtures[algorithm]!
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try! JWS.sign(claims: fixture.claims, key: fixture.key, type: "at+jwt"))
            }
        }

        Benchmark("verify \(algorithm.rawValue)") { benchmark in
            let fixture = fixtures[algorithm]!
            let publicKey = fixture.key.publicKey
            let kid = publicKey.kid
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try! JWS.verify(fixture.token) { $0 == kid ? publicKey : nil })
            }
        }
    }
}
