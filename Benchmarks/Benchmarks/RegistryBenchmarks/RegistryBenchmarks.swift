/// Tenant lookups in the in-memory view (`TenantDirectory`), single thread.
///
/// For N in 10k and 100k tenants:
/// - "lookup by id (N)": `TenantDirectory.tenant(id:)`
/// - "lookup by domain (N)": `TenantDirectory.tenant(domain:)`
/// - "lookup by id, borrowed (N)" / "lookup by domain, borrowed (N)": `TenantDirectory.withTenant(id:_:)` /
///   `withTenant(domain:_:)`: the view is lent to a closure (no reference count update) that reads its status.
/// - "lookup by id, entry (N)": `TenantDirectory.withTenantEntry(id:_:)`, the form the verifier uses: the entry
///   is lent to a closure that does what `TokenVerifier.checkDynamic` does with it, `hasDomain` of the
///   tenant's domain (the token's `tenant_domain`) and `status(at:)`, both answered from the index slot.
/// - "lookup by domain, entry (N)": `withTenantEntry(domain:_:)`, reading `status(at:)`.
/// Each lookup is what a request pays: the check of the thread's cached snapshot against the directory's
/// generation, a probe of the snapshot's hash index (`TenantIndex`: hash, slot, byte compare) and the
/// `TenantView` handed out (retained, then released after `blackHole`).
///
/// The directory (N tenants from RegistryFixtures) and the keys are built once per N in `setup`, outside
/// the measured region. Keys are every tenant's id / domain in random order, so lookups touch the whole
/// table rather than a cache-hot subset; each iteration takes 1,000 consecutive ones from a random start
/// and copies them (outside the measured region) into fresh, cache-hot strings, as a request's key is.
/// One benchmark iteration = `scalingFactor` (.kilo) = 1,000 lookups. Hence wall clock per iteration in
/// µs (as the JMH export gives it) = ns per lookup, and ns per lookup = 1e9 / (throughput × 1,000).
/// `scripts/bench-registry.sh` reports the p50.
import Benchmark
import Foundation
import RegistryFixtures
import TenantRegistry

/// A directory of `count` tenants and its keys in random order.
final class LookupFixture: Sendable {
    let directory: TenantDirectory
    let ids: [String]
    let domains: [String]

    init(count: Int) {
        directory = TenantDirectory()
        directory.merge(RegistryFixtures.makeTenants(count))
        let order = Array(0..<count).shuffled()
        ids = order.map { RegistryFixtures.freshCopy(RegistryFixtures.tenantId($0)) }
        domains = order.map { RegistryFixtures.freshCopy(RegistryFixtures.domain($0)) }
        precondition(directory.current.byId.count == count && directory.current.byDomain.count == count)
    }
}

/// The keys of one iteration: `scaledIterations.count` consecutive entries of `keys` from a random start,
/// freshly copied, so each is its own allocation, hot in cache, as a key just parsed from a request is.
/// (Reading the keys straight from the shuffled 100k array would add a cache miss per key that a
/// request does not pay.) Freed after `stopMeasurement()`: each benchmark ends with
/// `withExtendedLifetime(keys) {}`, because Swift releases the array at its last use, the loop, which is
/// inside the measured region. Until that line was added (seventh session), freeing the 1,000 keys was
/// timed as part of the lookups: nothing for ids (small strings, stored inline in the array), but a
/// `free` per key for domains (29 bytes, on the heap), which made lookups by domain look 2-3 times
/// slower than by id even at 10k tenants.
func batch(_ keys: [String], _ benchmark: Benchmark) -> [String] {
    let count = benchmark.scaledIterations.count
    let start = Int.random(in: 0...(keys.count - count))
    return keys[start..<(start + count)].map(RegistryFixtures.freshCopy)
}

/// As `batch`, the ids with their own tenants' domains (the fixture's arrays share one order).
func pairedBatch(_ fixture: LookupFixture, _ benchmark: Benchmark) -> [(String, String)] {
    let count = benchmark.scaledIterations.count
    let start = Int.random(in: 0...(fixture.ids.count - count))
    return (start..<(start + count)).map { (RegistryFixtures.freshCopy(fixture.ids[$0]), RegistryFixtures.freshCopy(fixture.domains[$0])) }
}

/// A time before every fixture tenant's end, so `status(at:)` compares against the subscription's end.
let lookupTime = Date(timeIntervalSince1970: 1_700_000_000)

/// Built lazily (globals), so listing the benchmarks builds nothing; `setup` forces the one it needs.
let fixture10k = LookupFixture(count: 10_000)
let fixture100k = LookupFixture(count: 100_000)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 100_000
    )

    for (label, size) in [("10k", 10_000), ("100k", 100_000)] {
        let fixture: @Sendable () -> LookupFixture = { size == 10_000 ? fixture10k : fixture100k }
        Benchmark("lookup by id (\(label))") { benchmark in
            let directory = fixture().directory
            let keys = batch(fixture().ids, benchmark)
            benchmark.startMeasurement()
            for key in keys {
                blackHole(directory.tenant(id: key))
            }
            benchmark.stopMeasurement()
            withExtendedLifetime(keys) {}
        } setup: {
            precondition(fixture().directory.tenant(id: fixture().ids[0]) != nil)
        }

        Benchmark("lookup by domain, borrowed (\(label))") { benchmark in
            let directory = fixture().directory
            let keys = batch(fixture().domains, benchmark)
            benchmark.startMeasurement()
            for key in keys {
                blackHole(directory.withTenant(domain: key) { $0?.storedStatus })
            }
            benchmark.stopMeasurement()
            withExtendedLifetime(keys) {}
        } setup: {
            precondition(fixture().directory.tenant(domain: fixture().domains[0]) != nil)
        }

        Benchmark("lookup by id, borrowed (\(label))") { benchmark in
            let directory = fixture().directory
            let keys = batch(fixture().ids, benchmark)
            benchmark.startMeasurement()
            for key in keys {
                blackHole(directory.withTenant(id: key) { $0?.storedStatus })
            }
            benchmark.stopMeasurement()
            withExtendedLifetime(keys) {}
        } setup: {
            precondition(fixture().directory.tenant(id: fixture().ids[0]) != nil)
        }

        Benchmark("lookup by domain (\(label))") { benchmark in
            let directory = fixture().directory
            let keys = batch(fixture().domains, benchmark)
            benchmark.startMeasurement()
            for key in keys {
                blackHole(directory.tenant(domain: key))
            }
            benchmark.stopMeasurement()
            withExtendedLifetime(keys) {}
        } setup: {
            precondition(fixture().directory.tenant(domain: fixture().domains[0]) != nil)
        }

        Benchmark("lookup by id, entry (\(label))") { benchmark in
            let directory = fixture().directory
            let keys = pairedBatch(fixture(), benchmark)
            benchmark.startMeasurement()
            for (id, domain) in keys {
                blackHole(directory.withTenantEntry(id: id) { $0.map { $0.hasDomain(domain) && $0.status(at: lookupTime) == .active } })
            }
            benchmark.stopMeasurement()
            withExtendedLifetime(keys) {}
        } setup: {
            let fixture = fixture()
            precondition(fixture.directory.withTenantEntry(id: fixture.ids[0]) { $0?.hasDomain(fixture.domains[0]) } == true)
        }

        Benchmark("lookup by domain, entry (\(label))") { benchmark in
            let directory = fixture().directory
            let keys = batch(fixture().domains, benchmark)
            benchmark.startMeasurement()
            for key in keys {
                blackHole(directory.withTenantEntry(domain: key) { $0?.status(at: lookupTime) })
            }
            benchmark.stopMeasurement()
            withExtendedLifetime(keys) {}
        } setup: {
            precondition(fixture().directory.withTenantEntry(domain: fixture().domains[0]) { $0?.status(at: lookupTime) } == .active)
        }
    }
}
