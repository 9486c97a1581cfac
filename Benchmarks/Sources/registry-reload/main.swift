/// Full reload time of the tenant view from a store: `TenantService.reloadAll()` (every tenant, read
/// in pages of 5,000 by id without logo/secret, row decoding, merge into an empty `TenantDirectory`).
///
///   registry-reload DATABASE N [RUNS]     DATABASE: sqlite:/path/file.sqlite or postgres://…/db (empty)
///
/// Seeds the empty database with N tenants (RegistryFixtures, `createMany` in chunks of 2,000 so each
/// transaction stays well inside the store's 5 s deadline), untimed; opens the connection with a ping;
/// then RUNS (default 5) times: new TenantDirectory + TenantService, time `reloadAll()` with
/// ContinuousClock, check the directory holds N tenants; then one more reload split into store read
/// (`allForView`) and `merge`; then the periodic reload as it runs every 30 s: after a full reload, 100
/// tenants get a new mint limit (a live limit change, written as the API writes it), and
/// `reloadChanges()` (only rows with `updated_at` after the previous reload's start less the lookback)
/// is timed RUNS times, each checked to have read exactly those 100. Prints one line:
/// `reload backend=… n=… median_ms=… min_ms=… max_ms=… runs=… seed_s=… fetch_ms=… merge_ms=… changed=… incremental_ms=…`.
import Foundation
import Logging
import RegistryFixtures
import TenantRegistry

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("registry-reload: \(message)\n".utf8))
    exit(1)
}

let arguments = CommandLine.arguments
guard (3...4).contains(arguments.count), let count = Int(arguments[2]), count > 0,
    let runs = arguments.count == 4 ? Int(arguments[3]) : 5, runs > 0
else {
    FileHandle.standardError.write(Data("usage: registry-reload DATABASE N [RUNS]\n".utf8))
    exit(2)
}
let location: DatabaseLocation
do { location = try DatabaseLocation.parse(arguments[1]) } catch { fail("\(error)") }
let backend: String
if case .sqlite = location { backend = "sqlite" } else { backend = "postgres" }

var logger = Logger(label: "registry-reload")
logger.logLevel = .warning

let milliseconds = { (duration: Duration) -> Double in
    Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15
}

do {
    let store = try await SQLTenantStore.open(location, sealer: .ephemeral(), logger: logger)
    try await store.migrate()

    let chunk = 2_000
    let seedStart = ContinuousClock.now
    for start in stride(from: 0, to: count, by: chunk) {
        try await store.createMany(RegistryFixtures.makeTenants(start..<min(start + chunk, count)), actor: "bench-registry")
    }
    let seedSeconds = milliseconds(seedStart.duration(to: .now)) / 1e3
    try await store.ping()

    var times = [Double]()
    for _ in 0..<runs {
        let directory = TenantDirectory()
        let service = TenantService(store: store, directory: directory, baseDomain: RegistryFixtures.baseDomain, logger: logger)
        let start = ContinuousClock.now
        try await service.reloadAll()
        times.append(milliseconds(start.duration(to: .now)))
        guard directory.current.byId.count == count else {
            fail("reload gave \(directory.current.byId.count) tenants, expected \(count)")
        }
    }
    // One more, untimed as a reload, split into its two halves: the store read (SELECT + row decoding +
    // TenantCodec.decode; the SELECT and row decoding run under the store's 5 s deadline) and the merge.
    let splitStart = ContinuousClock.now
    let tenants = try await store.allForView()
    let fetched = ContinuousClock.now
    TenantDirectory().merge(tenants)
    let fetchMilliseconds = milliseconds(splitStart.duration(to: fetched))
    let mergeMilliseconds = milliseconds(fetched.duration(to: .now))

    // The periodic reload with a few live changes (the fixtures were written long ago, at RegistryFixtures.epoch).
    let changed = min(100, count)
    let service = TenantService(store: store, baseDomain: RegistryFixtures.baseDomain, logger: logger)
    try await service.reloadAll()
    for index in 0..<changed {
        _ = try await store.update(
            RegistryFixtures.tenantId(index * (count / changed)), ifMatch: nil,
            audit: AuditEvent(at: Date(), actor: "bench-registry", action: "tenant.update", tenantId: nil, requestId: nil)
        ) { tenant in
            var tenant = tenant
            tenant.limits.mintPerSecond = 50
            tenant.updatedAt = Date()
            return tenant
        }
    }
    var incremental = [Double]()
    for _ in 0..<runs {
        let start = ContinuousClock.now
        let report = try await service.reloadChanges()
        incremental.append(milliseconds(start.duration(to: .now)))
        guard !report.full, report.tenants == changed else { fail("incremental reload read \(report), expected \(changed) changed tenants") }
    }
    guard service.directory.tenant(id: RegistryFixtures.tenantId(0))?.limits.mintPerSecond == 50 else { fail("the change did not reach the view") }
    incremental.sort()
    await store.close()

    times.sort()
    let median = times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
    print(
        "reload backend=\(backend) n=\(count)", String(format: "median_ms=%.1f min_ms=%.1f max_ms=%.1f", median, times.first!, times.last!),
        "runs=\(runs)", String(format: "seed_s=%.1f fetch_ms=%.1f merge_ms=%.1f", seedSeconds, fetchMilliseconds, mergeMilliseconds),
        "changed=\(changed)", String(format: "incremental_ms=%.2f", incremental[incremental.count / 2]))
    // Exit while `store` is still referenced: SQLBackend.deinit closes the SQLite connection a second
    // time, and sqlite-nio 1.13.2's close() is not idempotent (sqlite3_update_hook on a NULL handle:
    // SIGSEGV on a thread-pool thread, racing with process exit).
    withExtendedLifetime(store) { exit(0) }
} catch {
    fail("\(location): \(error)")
}
