/// JOSE signing and verification throughput, single thread, one operation per sample.
///
/// For each algorithm (ES256, RS256, PS256, EdDSA):
/// - "sign <ALG>": `JWS.sign(claims:key:type:)` of a typical cx-tenant access token (`typ: at+jwt`),
///   i.e. claims JSON serialization, header and base64url encoding, SHA-256 and the signature.
/// - "verify <ALG>": `JWS.verify(_:key:)` of a token signed once beforehand, i.e. split, header parse,
///   key lookup by `kid`, signature check and claims parse.
/// Keys (RSA 2048, P-256, Ed25519) are generated once, outside the measured region.
/// `scripts/bench-crypto.sh` compares the results with `openssl speed`.
import Benchmark
import JOSE

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
