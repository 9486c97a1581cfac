import Foundation
import Logging
import SQLKit
import StoreTestSupport
@testable import TenantRegistry
import Testing

@Suite("store deadlines and reload races") struct StoreRaceTests {
    @Test("a write whose deadline passes before its commit is rolled back: the caller's 503 is the truth", arguments: Backend.allCases)
    func deadlineRollsBack(backend: Backend) async throws {
        let scratch = ScratchDirectory()
        let location = try DatabaseLocation.parse(try backend.freshDatabase(in: scratch))
        let store = try await SQLTenantStore.open(location, sealer: .ephemeral(), logger: Logger(label: "test"))
        defer { Task { await store.close() } }
        // Set-up takes turns with the other PostgreSQL set-ups (see SetupGate.postgres), and, as RegistryHarness
        // does, is tried again when it outlives the store's deadline on a loaded machine (a CI-like run saw it).
        let sql = store.backend
        var attempt = 1
        while true {
            await SetupGate.postgres.enter()
            do {
                try await store.migrate()
                try await sql.transaction { db in try await db.raw("CREATE TABLE IF NOT EXISTS race (id TEXT PRIMARY KEY)").run() }
                await SetupGate.postgres.leave()
                break
            } catch {
                await SetupGate.postgres.leave()
                guard case .unavailable? = error as? StoreError, attempt < 3 else { throw error }
                attempt += 1
            }
        }
        // The body outlives the deadline in a statement that does not notice cancellation (SQLite: a long query on
        // the driver's thread pool, 0.6 s on this machine; PostgreSQL: pg_sleep), then writes.
        let slow: SQLQueryString =
            backend == .sqlite
            ? "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 3000000) SELECT count(*) FROM c" : "SELECT pg_sleep(0.7)"
        await #expect(throws: StoreError.self) {
            try await sql.transaction(deadline: .milliseconds(100)) { db in
                try await db.raw(slow).run()
                try await db.raw("INSERT INTO race (id) VALUES ('late')").run()
            }
        }
        try await sql.transaction(deadline: .seconds(5)) { db in
            try await db.raw("INSERT INTO race (id) VALUES ('in time')").run()
        }
        struct Row: Codable { var id: String }
        let rows = try await sql.read { db in try await db.raw("SELECT id FROM race ORDER BY id").all(decoding: Row.self) }
        #expect(rows.map(\.id) == ["in time"], "the write answered 503 must not have committed")
    }

    @Test("a stale API key reload cannot bring back a revoked key or drop a new one")
    func apiKeyReloadRace() {
        let directory = APIKeyDirectory()
        let (active, _) = APIKeyRecord.generate(name: "k1", scopes: ["admin"], tenants: ["*"], now: Date())
        var revoked = active
        revoked.revokedAt = Date()
        let (second, _) = APIKeyRecord.generate(name: "k2", scopes: ["otp"], tenants: ["*"], now: Date())
        directory.replace(with: [active])
        #expect(directory.activeKey(id: active.id) != nil)
        directory.replace(with: [revoked, second])  // the newer reload
        directory.replace(with: [active])  // an older reload finishing last
        #expect(directory.activeKey(id: active.id) == nil, "revoked stays revoked")
        #expect(directory.activeKey(id: second.id) != nil, "a key the stale reload did not see is kept")
    }

    @Test("a stale revocation reload cannot un-revoke a token revoked meanwhile; expired entries still go")
    func revocationReloadRace() {
        let list = RevocationList()
        list.add("jti-1", expiresAt: 2_000)
        list.replace(with: [])  // read before jti-1's revocation committed
        #expect(list.isRevoked("jti-1"))
        list.replace(with: [("jti-2", 3_000)])
        #expect(list.isRevoked("jti-1") && list.isRevoked("jti-2"))
        list.purge(before: 2_500)
        #expect(!list.isRevoked("jti-1") && list.isRevoked("jti-2"))
    }
}
