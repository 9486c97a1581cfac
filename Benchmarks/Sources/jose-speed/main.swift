/// JOSE sign/verify throughput measured the way `openssl speed -elapsed` measures its own: one thread runs
/// the operation in a tight loop for a fixed time and reports count / elapsed wall time. No per-operation
/// clock reads, malloc counting or sampling (the ordo-one JOSEBenchmarks report those, per operation);
/// so the ratio to `openssl speed` compares like with like. Same closures as JOSEBenchmarks (JOSEFixtures).
///
///   jose-speed [SECONDS [FILTER]]   SECONDS default 3 (bench-crypto.sh runs openssl speed -seconds 3);
///                                   FILTER runs only the operations whose name contains it (e.g. for perf)
///
/// Prints one line per operation: `speed name=<benchmark name> ops=<count> seconds=<elapsed> ops_per_s=<rate>`.
import Foundation
import JOSE
import JOSEFixtures


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

/// Runs `body` in batches of 64 until `seconds` of CPU time have passed (after a short warm-up) and prints
/// the rate per CPU second and per wall second.
func measure<T>(_ name: String, _ body: () -> T) {
    guard filter.isEmpty || name.contains(filter) else { return }
    for _ in 0..<200 { blackHole(body()) }
    let clock = ContinuousClock()
    let start = clock.now
    let cpuStart = threadCPUSeconds()
    var count = 0
    var cpu = 0.0
    repeat {
        for _ in 0..<64 { blackHole(body()) }
        count += 64
        cpu = threadCPUSeconds() - cpuStart
    } while cpu < seconds
    let elapsed = clock.now - start
    let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print("speed name=\(name.replacingOccurrences(of: " ", with: "_")) ops=\(count) cpu_seconds=\(String(format: "%.3f", cpu)) wall_seconds=\(String(format: "%.3f", wall)) ops_per_s=\(String(format: "%.0f", Double(count) / cpu)) ops_per_wall_s=\(String(format: "%.0f", Double(count) / wall))")
}

let keycloak = JOSEFixtures.keycloak
measure("verify KeycloakRS256") { keycloak.verify() }
for algorithm in JOSEFixtures.algorithms {
    let fixture = JOSEFixtures.fixtures[algorithm]!
    measure("sign \(algorithm.rawValue)") { fixture.sign() }
    measure("verify \(algorithm.rawValue)") { fixture.verify() }
}
