/// JOSE signing and verification, single thread, one operation per sample, with malloc counts per operation.
///
/// The operations and their fixtures live in `JOSEFixtures` (shared with `jose-speed`, which measures the
/// same closures in a timed loop the way `openssl speed` does; `scripts/bench-crypto.sh` takes its ratios
/// from there, since this harness's per-sample clock reads and malloc interposer are not in openssl's loop):
/// - "sign <ALG>" (ES256, RS256, PS256, EdDSA): a typical cx-tenant access token (`typ: at+jwt`): claims
///   JSON serialization, header and base64url encoding, SHA-256 and the signature.
/// - "verify <ALG>": split, header parse, key lookup by `kid`, signature check and claims parse.
/// - "verify KeycloakRS256" (a JWKS cache hit): a Keycloak access token whose realm key is cached, through
///   `JWKSCache` by kid, the signature, the claims parse and check, and the issuer-names-key-set check.
import Benchmark
import JOSE
import JOSEFixtures

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
        let fixture = JOSEFixtures.keycloak
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(fixture.verify())
        }
    }

    for algorithm in JOSEFixtures.algorithms {
        Benchmark("sign \(algorithm.rawValue)") { benchmark in
            let fixture = JOSEFixtures.fixtures[algorithm]!
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(fixture.sign())
            }
        }

        Benchmark("verify \(algorithm.rawValue)") { benchmark in
            let fixture = JOSEFixtures.fixtures[algorithm]!
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(fixture.verify())
            }
        }
    }
}
