/// Heap bytes per tenant of the in-memory tenant view (`TenantDirectory`), logos excluded.
///
///   registry-memory N [K]  prints one line: `memory n=N bytes_per_tenant=… rss_per_tenant=… …`; with K, a second
///                          line for K subtenants per tenant (see the end of this file)
///
/// Builds N tenants (RegistryFixtures: JSON text → JSONParser → TenantRules.parseCreate), merges them into
/// a new `TenantDirectory`, drops the tenant array, then measures the directory alone:
/// - malloc: glibc mallinfo2 in-use bytes (uordblks + hblkhd) after − before, i.e. the live heap the
///   directory holds: every dictionary of its `TenantSnapshot` (by id, by domain, …; listed in the output
///   as `indexes=`) with their `TenantView` values, the hash indexes the lookups use (`hash_indexes=`:
///   keys/slots x slot size), and the heap strings they reference (shared, counted once).
/// - mapped: the hash indexes' slot tables of 2 MiB or more, which are mapped outside malloc (for huge
///   pages; `mapped_bytes=`, `(huge)` in `hash_indexes=`). `bytes_per_tenant` = (malloc + mapped) / N.
/// - rss: /proc/self/statm resident pages after − before, each after malloc_trim(0); coarser (page
///   granular, includes fragmentation), reported as a cross-check.
/// Runs single-threaded on the main thread (mallinfo2 sees the main arena only). One N per process.
import CMallocInfo
import Foundation
import RegistryFixtures
import TenantRegistry

guard (2...3).contains(CommandLine.arguments.count), let count = Int(CommandLine.arguments[1]), count > 0 else {
    FileHandle.standardError.write(Data("usage: registry-memory N [SUBTENANTS_PER_TENANT]\n".utf8))
    exit(2)
}

func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
}

func settle() -> (malloc: Int, rss: Int) {
    _ = cmallocinfo_trim()
    return (Int(cmallocinfo_in_use_bytes()), residentBytes())
}

/// Warm-up: a throwaway directory of 100 tenants (ids outside 0..<N) so that lazily allocated state
/// (Foundation date parsing, runtime metadata, the JSON parser's tables) exists before the baseline.
func warmUp() {
    let directory = TenantDirectory()
    directory.merge(RegistryFixtures.makeTenants(50_000_000..<50_000_100))
    precondition(directory.tenant(domain: RegistryFixtures.domain(50_000_000)) != nil)
}

/// Builds the tenants and merges them; the array dies when this returns.
func fill(_ directory: TenantDirectory, count: Int) {
    let tenants = RegistryFixtures.makeTenants(count)
    directory.merge(tenants)
}

warmUp()
let before = settle()
let directory = TenantDirectory()
fill(directory, count: count)
let after = settle()

let snapshot = directory.current
guard snapshot.byId.count == count, snapshot.byDomain.count == count else {
    FileHandle.standardError.write(Data("registry-memory: directory holds \(snapshot.byId.count) tenants, expected \(count)\n".utf8))
    exit(1)
}
/// The snapshot's dictionaries and their sizes (by reflection, so a new index shows up): `byId:100000,…`.
let indexes = Mirror(reflecting: snapshot).children.compactMap { child -> String? in
    guard let label = child.label, let table = child.value as? [String: TenantView] else { return nil }
    return "\(label):\(table.count)"
}.joined(separator: ",")
let mallocBytes = after.malloc - before.malloc
let mappedBytes = snapshot.hashIndexMappedBytes
let rssBytes = after.rss - before.rss
print(
    "memory n=\(count) malloc_bytes=\(mallocBytes) mapped_bytes=\(mappedBytes) bytes_per_tenant=\((mallocBytes + mappedBytes) / count)",
    "rss_bytes=\(rssBytes) rss_per_tenant=\(rssBytes / count)",
    "view_stride=\(MemoryLayout<TenantView>.stride) key_stride=\(MemoryLayout<String>.stride)",
    "byId_capacity=\(snapshot.byId.capacity) indexes=\(indexes) hash_indexes=\(snapshot.hashIndexSummary)")
withExtendedLifetime(directory) {}

// Subtenants (`registry-memory N K`, K subtenants per tenant): heap bytes per subtenant of the in-memory
// `SubtenantDirectory`, and the cost of one lookup beside a tenant lookup by id in the same process (the
// yardstick: both are what minting and verifying a subtenant token add up).
if let perTenant = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) : nil, perTenant > 0 {
    let tenantIds = Array(snapshot.byId.keys)
    func makeSubtenants() -> [Subtenant] {
        let now = Date()
        return tenantIds.flatMap { tenantId in
            (1...perTenant).map { index in
                Subtenant(
                    tenantId: tenantId, subtenantId: String(format: "s%02d", index), displayName: "Department \(index)", features: ["bot": true],
                    createdAt: now, updatedAt: now)
            }
        }
    }
    let subtenants = SubtenantDirectory()
    let beforeSubtenants = settle()
    do { subtenants.merge(makeSubtenants()) }
    let afterSubtenants = settle()
    let subtenantCount = subtenants.counts().total
    guard subtenantCount == count * perTenant else {
        FileHandle.standardError.write(Data("registry-memory: \(subtenantCount) subtenants, expected \(count * perTenant)\n".utf8))
        exit(1)
    }
    // Lookups in a random order, keys built beforehand (fresh strings, as a request's would be).
    var generator = SystemRandomNumberGenerator()
    let lookups = 2_000_000
    let pairs = (0..<lookups).map { _ in
        (String(tenantIds.randomElement(using: &generator)!.utf8), String(format: "s%02d", Int.random(in: 1...perTenant, using: &generator)))
    }
    func timed(_ body: () -> Int) -> Double {
        let start = ContinuousClock.now
        let found = body()
        let elapsed = ContinuousClock.now - start
        precondition(found == lookups)
        return Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
    }
    var subtenantNs = [Double]()
    var tenantNs = [Double]()
    for _ in 0..<5 {
        subtenantNs.append(timed { pairs.reduce(0) { found, pair in found + (subtenants.subtenant(pair.0, pair.1)?.isDeleted == false ? 1 : 0) } } / Double(lookups))
        tenantNs.append(timed { pairs.reduce(0) { found, pair in found + (directory.withTenantEntry(id: pair.0) { $0 != nil } ? 1 : 0) } } / Double(lookups))
    }
    let subtenantMedian = subtenantNs.sorted()[2]
    let tenantMedian = tenantNs.sorted()[2]
    print(
        "subtenants n=\(subtenantCount) per_tenant=\(perTenant) malloc_bytes=\(afterSubtenants.malloc - beforeSubtenants.malloc)",
        "bytes_per_subtenant=\((afterSubtenants.malloc - beforeSubtenants.malloc) / subtenantCount)",
        "rss_per_subtenant=\((afterSubtenants.rss - beforeSubtenants.rss) / subtenantCount)",
        String(format: "lookup_ns=%.1f tenant_lookup_ns=%.1f ratio=%.2f", subtenantMedian, tenantMedian, subtenantMedian / tenantMedian))
    withExtendedLifetime(subtenants) {}
}
