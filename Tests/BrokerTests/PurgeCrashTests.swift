import Foundation
import JOSE
import Logging
import SQLKit
import StoreTestSupport
@testable import TenantRegistry
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension RegistryProcessTests {
    /// Makes the next purge stall inside its transaction, after it has wiped the row, the keys, the challenges, the
    /// revocations and the subtenants and just before its audit insert (the last write): a trigger on that insert
    /// that never ends in time (SQLite: a cross join of 8e9 rows; PostgreSQL: pg_sleep, and the database set to
    /// notice a vanished client every 100 ms, as a deployment with `client_connection_check_interval` would).
    static func stallPurges(_ backend: Backend, database: String) async throws {
        try await withRawStore(database) { sql in
            switch backend {
            case .sqlite:
                try await sql.raw("CREATE TABLE stall (x INTEGER)").run()
                try await sql.raw("INSERT INTO stall WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000) SELECT x FROM c").run()
                try await sql.raw(
                    """
                    CREATE TRIGGER stall_purge BEFORE INSERT ON audit_events WHEN NEW.action = 'tenant.purged'
                    BEGIN SELECT count(*) FROM stall a, stall b, stall c; END
                    """
                ).run()
            case .postgres:
                try await sql.raw("CREATE FUNCTION stall_purge() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(60); RETURN NEW; END $$").run()
                try await sql.raw(
                    "CREATE TRIGGER stall_purge BEFORE INSERT ON audit_events FOR EACH ROW WHEN (NEW.action = 'tenant.purged') EXECUTE FUNCTION stall_purge()"
                ).run()
                let name = try #require(URLComponents(string: database)?.path.dropFirst())
                try await sql.raw("ALTER DATABASE \(unsafeRaw: String(name)) SET client_connection_check_interval = '100ms'").run()
            }
        }
    }

    /// Removes what `stallPurges` added; on PostgreSQL first waits (up to 20 s) until the killed broker's session has
    /// noticed its client is gone and rolled back.
    static func unstallPurges(_ backend: Backend, database: String) async throws {
        try await withRawStore(database) { sql in
            switch backend {
            case .sqlite:
                try await sql.raw("DROP TRIGGER stall_purge").run()
                try await sql.raw("DROP TABLE stall").run()
            case .postgres:
                struct Count: Codable { var n: Int64 }
                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline {
                    let sleeping = try await sql.raw(
                        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'"
                    ).all(decoding: Count.self).first?.n ?? 0
                    if sleeping == 0 { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                try await sql.raw("DROP TRIGGER stall_purge ON audit_events").run()
                try await sql.raw("DROP FUNCTION stall_purge()").run()
            }
        }
    }

    static func withRawStore(_ database: String, _ body: @Sendable @escaping (any SQLDatabase) async throws -> Void) async throws {
        let store = try await SQLTenantStore.open(try DatabaseLocation.parse(database), sealer: .ephemeral(), logger: Logger(label: "test"))
        do {
            try await store.backend.transaction(deadline: .seconds(30), body)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    @Test("SIGKILL in the middle of a purge leaves the whole deleted tenant (a later purge removes all of it), never half; SIGKILL after its answer, the tombstone", arguments: Backend.allCases)
    func killDuringPurge(backend: Backend) async throws {
        let scratch = ScratchDirectory()
        let database = try backend.freshDatabase(in: scratch)
        let admin = try await bootstrapAdminKey(database: database, directory: scratch.path)
        let keys = scratch.path + "/keys"
        let arguments = ["--database", database]

        // A deleted tenant with everything a purge removes: a sealed secret, a logo, a subtenant, its own key, a revocation.
        let seeding = try await BrokerProcess.serve(keysDir: keys, directory: scratch.path, extraArguments: arguments)
        let base = seeding.baseURL
        let body = tenantBody("t1") { $0["logo"] = .object(["contentType": .string("image/png"), "data": .string(pngBase64)]) }
        #expect(try await HTTP.send(.POST, base + "/v1/tenants", key: admin, json: body).status == 201)
        #expect(try await HTTP.send(.POST, base + "/v1/tenants/t1/subtenants", key: admin, json: .object(["subtenantId": .string("sales")])).status == 201)
        let keyBody: JSONValue = .object(["name": .string("own"), "scopes": .array([.string("token:mint"), .string("token:introspect")]), "tenants": .array([.string("t1")])])
        let own = try #require(try JSONParser().parseObject(try await HTTP.send(.POST, base + "/v1/api-keys", key: admin, json: keyBody).body)["key"]?.stringValue)
        let minted = try JSONParser().parseObject(try await HTTP.send(.POST, base + "/v1/tenants/t1/token", key: own).body)
        let token = try #require(minted["access_token"]?.stringValue)
        #expect(try await HTTP.sendForm(base + "/oauth2/revoke", key: own, fields: [("token", token)]).status == 200)
        #expect(try await HTTP.send(.DELETE, base + "/v1/tenants/t1", key: admin).status == 204)
        seeding.signal(SIGTERM)
        #expect(try await seeding.waitForExit() == 0)

        // Killed mid-purge.
        try await Self.stallPurges(backend, database: database)
        let doomed = try await BrokerProcess.serve(keysDir: keys, directory: scratch.path, extraArguments: arguments)
        let answered = LockedList()
        let confirm: JSONValue = .object(["confirm": .string("t1")])
        let purge = Task {
            if let reply = try? await HTTP.send(.POST, doomed.baseURL + "/v1/tenants/t1/purge", key: admin, json: confirm) {
                answered.append("\(reply.status) \(String(decoding: reply.body, as: UTF8.self))")
            }
        }
        try await Task.sleep(for: .milliseconds(1_500))
        #expect(answered.items.isEmpty, "the purge is stalled in its transaction when the broker is killed: \(answered.items)")
        doomed.signal(SIGKILL)
        _ = try await doomed.waitForExit()
        await purge.value
        try await Self.unstallPurges(backend, database: database)

        // The whole deleted tenant is there: a purge now removes everything, as if the first had never begun.
        let restarted = try await BrokerProcess.serve(keysDir: keys, directory: scratch.path, extraArguments: arguments)
        let tenant = try JSONParser().parseObject(try await HTTP.send(.GET, restarted.baseURL + "/v1/tenants/t1", key: admin).body)
        #expect(tenant["status"] == .string("deleted"), "\(tenant)")
        #expect(tenant["logo"]?.objectValue?["data"] == .string(pngBase64), "the logo is still there")
        let audit = try JSONParser().parseObject(try await HTTP.send(.GET, restarted.baseURL + "/v1/audit?tenantId=t1&limit=1000", key: admin).body)
        let actions = audit["items"]?.arrayValue?.compactMap { $0.objectValue?["action"]?.stringValue } ?? []
        #expect(actions.contains("tenant.delete") && !actions.contains("tenant.purged"), "\(actions)")
        let reader = try await SQLTenantStore.open(try DatabaseLocation.parse(database), sealer: .ephemeral(), logger: Logger(label: "test"))
        #expect(try await reader.storedClientSecret("t1") != nil, "the sealed secret is still there")
        await reader.close()
        let reply = try await HTTP.send(.POST, restarted.baseURL + "/v1/tenants/t1/purge", key: admin, json: confirm)
        #expect(reply.status == 200, "\(String(decoding: reply.body, as: UTF8.self))")
        let counts = try JSONParser().parseObject(reply.body)["purged"]?.objectValue ?? [:]
        #expect(
            counts["apiKeys"] == .int(1) && counts["revocations"] == .int(1) && counts["subtenants"] == .int(1),
            "nothing was removed by the killed purge: \(counts)")
        // Killed after the answer: the tombstone stays.
        restarted.signal(SIGKILL)
        _ = try await restarted.waitForExit()
        let last = try await BrokerProcess.serve(keysDir: keys, directory: scratch.path, extraArguments: arguments)
        defer { last.signal(SIGKILL) }
        let tombstone = try JSONParser().parseObject(try await HTTP.send(.GET, last.baseURL + "/v1/tenants/t1", key: admin).body)
        #expect(tombstone["status"] == .string("purged") && tombstone["logo"] == nil, "\(tombstone)")
        let store = try await SQLTenantStore.open(try DatabaseLocation.parse(database), sealer: .ephemeral(), logger: Logger(label: "test"))
        #expect(try await store.storedClientSecret("t1") == nil)
        await store.close()
    }
}
