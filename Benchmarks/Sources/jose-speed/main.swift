/// JOSE sign/verify throughput measured the way `openssl speed -elapsed` measures its own: one thread runs
/// the operation in a tight loop for a fixed time and reports count / elapsed wall time. No per-operation
/// clock reads, malloc counting or sampling (the ordo-one JOSEBenchmarks report those, per operation);
/// so the ratio to `openssl speed` compares like with like. Same closures as JOSEBenchmarks (JOSEFixtures).
///
///   jose-speed [SECONDS [FILTER]]   SECONDS default 3 (bench-crypto.sh runs openssl speed -seconds 3);
///                                   FILTER runs only the operations whose name contains it (e.g. for perf)
///   jose-speed pair SLICE ROUNDS    the RSA verifications against what `openssl speed rsa2048` times as
///                                   verify/s (OpenSSLReference: the same EVP calls on OpenSSL's own key),
///                                   interleaved in this process: each round runs the reference, KeycloakRS256,
///                                   RS256, then the reference again, SLICE CPU seconds each, and compares each
///                                   of ours with the mean of the two reference slices around it. On a shared host
///                                   whose speed drifts by tens of percent between runs seconds apart, this pairs
///                                   figures measured within a second of each other.
///
/// Prints one line per operation: `speed name=<benchmark name> ops=<count> seconds=<elapsed> ops_per_s=<rate>`;
/// with `pair`, one `pair round=...` line per round and a `pair median ...` line.
import Foundation
import JOSE
import JOSEFixtures
import OpenSSLReference


let arguments = CommandLine.arguments
let seconds = arguments.count > 1 ? Double(arguments[1]) ?? 3 : 3
let filter = arguments.count > 2 ? arguments[2] : ""

@inline(never)
func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

/// CPU time of this thread, in seconds (user + system), as `openssl speed` without `-elapsed` counts time.
func threadCPUSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Runs `body` `warmUp` times, then in batches of `batch` until `seconds` of this thread's CPU time have
/// passed; returns the operations counted and the CPU seconds they took.
func timedLoop<T>(_ seconds: Double, warmUp: Int, batch: Int, _ body: () -> T) -> (count: Int, cpu: Double) {
    for _ in 0..<warmUp { blackHole(body()) }
    let start = threadCPUSeconds()
    var count = 0
    var cpu = 0.0
    repeat {
        for _ in 0..<batch { blackHole(body()) }
        count += batch
        cpu = threadCPUSeconds() - start
    } while cpu < seconds
    return (count, cpu)
}

/// Runs `body` in batches of 64 until `seconds` of CPU time have passed (after a short warm-up) and prints
/// the rate per CPU second and per wall second.
func measure<T>(_ name: String, _ body: () -> T) {
    guard filter.isEmpty || name.contains(filter) else { return }
    let clock = ContinuousClock()
    let start = clock.now
    let (count, cpu) = timedLoop(seconds, warmUp: 200, batch: 64, body)
    let elapsed = clock.now - start
    let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print("speed name=\(name.replacingOccurrences(of: " ", with: "_")) ops=\(count) cpu_seconds=\(String(format: "%.3f", cpu)) wall_seconds=\(String(format: "%.3f", wall)) ops_per_s=\(String(format: "%.0f", Double(count) / cpu)) ops_per_wall_s=\(String(format: "%.0f", Double(count) / wall))")
}

/// Operations per CPU second of `body` over `seconds` of this thread's CPU time (after a short warm-up).
func rate<T>(_ seconds: Double, _ body: () -> T) -> Double {
    let (count, cpu) = timedLoop(seconds, warmUp: 50, batch: 32, body)
    return Double(count) / cpu
}

if arguments.count > 1, arguments[1] == "pair" {
    let slice = arguments.count > 2 ? Double(arguments[2]) ?? 0.5 : 0.5
    let rounds = arguments.count > 3 ? Int(arguments[3]) ?? 10 : 10
    guard let reference = reference_rsa2048_new() else { fatalError("OpenSSL could not set up the rsa2048 reference") }
    let keycloak = JOSEFixtures.keycloak
    let rs256 = JOSEFixtures.fixtures[.rs256]!
    var ratios: (keycloak: [Double], rs256: [Double]) = ([], [])
    func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
    func verifyReference() -> Int32 {
        let ok = reference_rsa2048_verify(reference)
        precondition(ok == 1, "the reference signature does not verify")
        return ok
    }
    for round in 1...rounds {
        let before = rate(slice, verifyReference)
        let ours = rate(slice) { keycloak.verify() }
        let plain = rate(slice) { rs256.verify() }
        let after = rate(slice, verifyReference)
        let baseline = (before + after) / 2
        ratios.keycloak.append(100 * ours / baseline)
        ratios.rs256.append(100 * plain / baseline)
        print(String(format: "pair round=%d reference_ops_per_s=%.0f/%.0f KeycloakRS256_ops_per_s=%.0f RS256_ops_per_s=%.0f ratio_KeycloakRS256=%.1f ratio_RS256=%.1f",
            round, before, after, ours, plain, ratios.keycloak.last!, ratios.rs256.last!))
    }
    print(String(format: "pair median ratio_KeycloakRS256=%.1f min=%.1f max=%.1f ratio_RS256=%.1f min=%.1f max=%.1f rounds=%d slice_s=%.2f",
        median(ratios.keycloak), ratios.keycloak.min()!, ratios.keycloak.max()!, median(ratios.rs256), ratios.rs256.min()!, ratios.rs256.max()!, rounds, slice))
    exit(0)
}

let keycloak = JOSEFixtures.keycloak
measure("verify KeycloakRS256") { keycloak.verify() }
for algorithm in JOSEFixtures.algorithms {
    let fixture = JOSEFixtures.fixtures[algorithm]!
    measure("sign \(algorithm.rawValue)") { fixture.sign() }
    measure("verify \(algorithm.rawValue)") { fixture.verify() }
}
