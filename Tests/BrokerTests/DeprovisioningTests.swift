import Foundation
import HTTPTypes
import JOSE
import StoreTestSupport
@testable import TenantRegistry
import Testing

@Suite("deprovisioning: the tenant export")
struct DeprovisioningTests {
    /// Tenant t1 (with a logo and subtenant `sales`) and t2, and three keys: t1's own, its subtenant's, and one
    /// shared with t2 (which is not t1's).
    static func seed(_ client: RegistryHarness.Client) async throws -> (own: String, sub: String, shared: String) {
        let body = tenantBody("t1") { $0["logo"] = .object(["contentType": .string("image/png"), "data": .string(pngBase64)]) }
        #expect(try await client.send(.post, "/v1/tenants", json: body).status == .created)
        #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("t2")).status == .created)
        #expect(try await client.send(.post, "/v1/tenants/t1/subtenants", json: .object(["subtenantId": .string("sales")])).status == .created)
        let own = try await client.apiKey(["token:mint"], tenants: ["t1"], name: "own")
        let sub = try await client.apiKey(["token:mint"], tenants: ["t1/sales"], name: "sub")
        let shared = try await client.apiKey(["token:mint", "token:introspect"], tenants: ["t1", "t2"], name: "shared")
        return (own, sub, shared)
    }

    @Test("export: the document without secrets, subtenants, only the tenant's own keys (metadata only), the whole audit trail across pages; any status", arguments: Backend.allCases)
    func export(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            let (own, sub, shared) = try await Self.seed(client)
            let everyone = try await client.apiKey(["token:mint"], tenants: ["*"], name: "everyone")
            // A trail longer than one page of the export's reads (1,000).
            let store = harness.broker.tenants.store
            let base = harness.clock.now
            for index in 0..<1_050 {
                try await store.append(
                    AuditEvent(at: base.addingTimeInterval(Double(index)), actor: "test", action: "test.event:\(index)", tenantId: "t1", requestId: nil))
            }
            try await store.append(AuditEvent(at: base, actor: "test", action: "other.tenant", tenantId: "t2", requestId: nil))
            #expect(try await client.send(.delete, "/v1/tenants/t1").status == .noContent, "a deleted tenant can still be exported")

            let reply = try await client.send(.get, "/v1/tenants/t1/export")
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply.headers[.contentType] == "application/json" && reply.headers[.cacheControl] == "no-store")
            let bundle = try reply.json
            let tenant = try #require(bundle["tenant"]?.objectValue)
            #expect(bundle["exportedAt"]?.stringValue.flatMap(RFC3339.parse) != nil)
            #expect(tenant["tenantId"] == .string("t1") && tenant["status"] == .string("deleted"))
            #expect(tenant["logo"]?.objectValue?["data"] == .string(pngBase64))
            #expect(tenant["keycloak"]?.objectValue?["clientSecret"] == nil && tenant["keycloak"]?.objectValue?["realm"] == .string("t1"))
            #expect(bundle["subtenants"]?.arrayValue?.compactMap { $0.objectValue?["subtenantId"]?.stringValue } == ["sales"])
            let names = Set(bundle["apiKeys"]?.arrayValue?.compactMap { $0.objectValue?["name"]?.stringValue } ?? [])
            #expect(names == ["own", "sub"], "keys limited to t1 or its subtenants, not keys shared with others")
            for secret in ["s3cret-t1", own, sub, shared, everyone] + [own, sub].map(APIKeyRecord.hash(secret:)) {
                #expect(!reply.text.contains(secret), "no secret or hash of one in the export")
            }
            let actions = bundle["audit"]?.arrayValue?.compactMap { $0.objectValue?["action"]?.stringValue } ?? []
            let appended = actions.filter { $0.hasPrefix("test.event:") }
            #expect(appended == (0..<1_050).map { "test.event:\($0)" }, "every event, in order, across pages")
            #expect(actions.first == "tenant.create" && actions.contains("tenant.delete") && !actions.contains("other.tenant"), "\(actions.prefix(3))")

            // Only system admins; unknown and malformed ids are 404.
            let limited = try await client.apiKey(["tenants:read", "token:mint"], tenants: ["t2"])
            #expect(try await client.send(.get, "/v1/tenants/t1/export", key: limited).status.code >= 403)
            #expect(try await client.send(.get, "/v1/tenants/t2/export", key: limited).status == .forbidden)
            #expect(try await client.send(.get, "/v1/tenants/nobody/export").status == .notFound)
            #expect(try await client.send(.get, "/v1/tenants/..%2F/export").status == .notFound)
            #expect(try await client.send(.get, "/v1/tenants/t1/export", key: .some(nil)).status == .unauthorized)
        }
    }
}

extension DeprovisioningTests {
    @Test("purge: only a deleted tenant, with its id typed again; removes keys, secrets, logo, configuration and revocations in one go, keeps a tombstone and the audit trail; id and domain never reused", arguments: Backend.allCases)
    func purge(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            let (own, sub, shared) = try await Self.seed(client)
            // An admin key is a system admin's whatever its tenants: never the tenant's own.
            let operatorKey = try await client.apiKey(["admin"], tenants: ["t1"], name: "operator")
            let token = try #require(try await client.send(.post, "/v1/tenants/t1/token", key: own).json["access_token"]?.stringValue)
            let revoked = try #require(try await client.send(.post, "/v1/tenants/t1/token", key: shared).json["access_token"]?.stringValue)
            let (id, secret) = clientCredentials(shared)
            #expect(try await client.form("/oauth2/revoke", [("token", revoked)], basic: (id, secret)).status == .ok)

            let live = try await client.send(.post, "/v1/tenants/t1/purge", json: .object(["confirm": .string("t1")]))
            #expect(live.status == .conflict && live.code == "tenant_not_deleted", "\(live.text)")
            _ = try await client.apiKey(["tenants:write"], tenants: ["t1"])
            let writer = try await client.apiKey(["tenants:write"], tenants: ["t1", "t2"])
            #expect(try await client.send(.delete, "/v1/tenants/t1").status == .noContent)
            for bad: JSONValue in [.object([:]), .object(["confirm": .string("T1")]), .object(["confirm": .string("t2")]), .object(["confirm": .string("t1"), "force": .bool(true)])] {
                let refused = try await client.send(.post, "/v1/tenants/t1/purge", json: bad)
                #expect(refused.status == .unprocessableContent && refused.code == "validation_failed", "\(bad): \(refused.text)")
            }
            let notAdmin = try await client.send(.post, "/v1/tenants/t1/purge", json: .object(["confirm": .string("t1")]), key: writer)
            #expect(notAdmin.status == .forbidden, "only system admins: \(notAdmin.text)")
            #expect(try await client.send(.post, "/v1/tenants/nobody/purge", json: .object(["confirm": .string("nobody")])).status == .notFound)

            // Before the purge the logo and the sealed secret are on disk (so the check after it can fail).
            let sealedSecret = try #require(try await harness.broker.tenants.store.storedClientSecret("t1"))
            let sqlitePath = backend == .sqlite ? String(harness.databaseURL.dropFirst("sqlite:".count)) : nil
            if let path = sqlitePath {
                let bytes = [path, path + "-wal"].map { (try? Data(contentsOf: URL(fileURLWithPath: $0))) ?? Data() }
                #expect(bytes.contains { $0.range(of: Data(pngBase64.utf8)) != nil }, "the logo is on disk before the purge")
                #expect(bytes.contains { $0.range(of: Data(sealedSecret.utf8)) != nil }, "the sealed secret is on disk before the purge")
            }
            let purged = try await client.send(.post, "/v1/tenants/t1/purge", json: .object(["confirm": .string("t1")]))
            #expect(purged.status == .ok, "\(purged.text)")
            let counts = try #require(try purged.json["purged"]?.objectValue)
            // own and sub (and the tenants:write key made above, limited to t1); not the shared one.
            #expect(counts["apiKeys"] == .int(3) && counts["revocations"] == .int(1) && counts["subtenants"] == .int(1), "\(counts)")
            #expect(try await harness.broker.tenants.store.storedClientSecret("t1") == nil, "the sealed secret is wiped")
            let again = try await client.send(.post, "/v1/tenants/t1/purge", json: .object(["confirm": .string("t1")]))
            #expect(again.status == .conflict && again.code == "tenant_not_deleted", "a tombstone is not purged twice")

            // Its keys and tokens are dead; the shared key still works for the other tenant.
            #expect(try await client.send(.post, "/v1/tenants/t1/token", key: own).status == .unauthorized)
            #expect(try await client.send(.post, "/v1/tenants/t1/token", key: sub).status == .unauthorized)
            #expect(try await client.send(.get, "/v1/verify", key: token).status == .unauthorized)
            #expect(try await client.send(.post, "/v1/tenants/t2/token", key: shared).status == .ok)
            #expect(try await client.send(.get, "/v1/tenants/t2", key: operatorKey).status == .ok, "the admin key survives delete and purge")
            let subtenant = try await client.send(.get, "/v1/tenants/t1/subtenants/sales")
            #expect(try subtenant.status == .notFound || subtenant.json["status"] == .string("deleted"), "\(subtenant.text)")
            // The tombstone: listed as purged, no logo or configuration; id and domain taken for good.
            let tombstone = try await client.send(.get, "/v1/tenants/t1")
            #expect(try tombstone.json["status"] == .string("purged") && (try tombstone.json["logo"]) == nil, "\(tombstone.text)")
            #expect(try tombstone.json["mediaServer"] == nil || (try tombstone.json["mediaServer"]) == .null)
            let listed = try await client.send(.get, "/v1/tenants?status=purged")
            #expect(try listed.json["items"]?.arrayValue?.compactMap { $0.objectValue?["tenantId"]?.stringValue } == ["t1"])
            #expect(try await client.send(.get, "/v1/dashboard/summary").json["byStatus"]?.objectValue?["purged"] == .int(1))
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("t1")).status == .conflict)
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("t3") { $0["domain"] = .string("t1.expertflow.com") }).status == .conflict)
            #expect(try await client.send(.patch, "/v1/tenants/t1", json: .object(["features": .object(["x": .bool(true)])])).status == .notFound)
            for entry in ["t1", "t1/sales"] {
                let body: JSONValue = .object(["name": .string("late"), "scopes": .array([.string("token:mint")]), "tenants": .array([.string("t2"), .string(entry)])])
                let refused = try await client.send(.post, "/v1/api-keys", json: body)
                #expect(refused.status == .unprocessableContent && refused.text.contains("tenants[1]") && refused.text.contains("purged"), "\(refused.text)")
            }
            let audit = try await client.send(.get, "/v1/audit?tenantId=t1&limit=1000").json["items"]?.arrayValue ?? []
            let actions = audit.compactMap { $0.objectValue?["action"]?.stringValue }
            #expect(actions.first == "tenant.create" && actions.last == "tenant.purged", "\(actions)")
            let counted = audit.last?.objectValue?["counts"]?.objectValue
            #expect(counted == counts, "the audit event counts what the answer did: \(String(describing: counted))")

            if let path = sqlitePath {
                // Nothing of the purged logo or the sealed secret is left in the database file or its WAL.
                for file in [path, path + "-wal"] {
                    let bytes = (try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data()
                    #expect(bytes.range(of: Data(pngBase64.utf8)) == nil, "the logo is gone from \(file)")
                    #expect(bytes.range(of: Data(sealedSecret.utf8)) == nil, "the sealed client secret is gone from \(file)")
                }
            }
        }
    }
}

extension DeprovisioningTests {
    @Test("retention: tenants deleted --deleted-tenant-retention days ago are purged (actor retention), younger deletions kept; two instances sweeping at once purge each tenant exactly once", arguments: Backend.allCases)
    func retention(backend: Backend) async throws {
        let clock = TestClock(Date())
        let harness = try await RegistryHarness.make(backend, clock: clock)
        // On PostgreSQL a second instance on the same database; on SQLite a second service on the same store.
        let second = backend == .postgres ? try await RegistryHarness.make(.postgres, clock: clock, sharing: harness) : nil
        try await harness.run { client in
            for id in ["old1", "old2", "young", "alive"] { #expect(try await client.send(.post, "/v1/tenants", json: tenantBody(id)).status == .created) }
            for id in ["old1", "old2"] { #expect(try await client.send(.delete, "/v1/tenants/\(id)").status == .noContent) }
            clock.set(clock.now.addingTimeInterval(20 * 86_400))
            #expect(try await client.send(.delete, "/v1/tenants/young").status == .noContent)
            clock.set(clock.now.addingTimeInterval(11 * 86_400))
            let first = harness.broker.tenants
            let other = second?.broker.tenants ?? TenantService(store: first.store, baseDomain: "expertflow.com", logger: .init(label: "test"), clock: { clock.now })
            #expect(try await first.purgeExpiredDeletions(retentionDays: 0) == 0, "0: never")
            if let second {
                // While the other instance holds the sweep's advisory lock, this one's sweep purges nothing.
                let flags = LockedList()
                let holder = Task {
                    try await second.broker.tenants.store.withRetentionLock { () async throws(StoreError) in
                        flags.append("held")
                        while !flags.items.contains("release") { try? await Task.sleep(for: .milliseconds(10)) }
                    }
                }
                let deadline = ContinuousClock.now + .seconds(10)
                while !flags.items.contains("held"), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
                #expect(flags.items.contains("held"))
                #expect(try await first.purgeExpiredDeletions(retentionDays: 30) == 0, "the other instance is sweeping")
                #expect(try await client.send(.get, "/v1/tenants/old1").json["status"] == .string("deleted"))
                flags.append("release")
                #expect(try await holder.value != nil, "the holder had the lock")
            }
            async let a = first.purgeExpiredDeletions(retentionDays: 30)
            async let b = other.purgeExpiredDeletions(retentionDays: 30)
            let (byFirst, byOther) = try await (a, b)
            #expect(byFirst + byOther == 2, "\(byFirst) + \(byOther)")
            for (id, status) in [("old1", "purged"), ("old2", "purged"), ("young", "deleted"), ("alive", "active")] {
                #expect(try await client.send(.get, "/v1/tenants/\(id)").json["status"] == .string(status), "\(id)")
            }
            for id in ["old1", "old2"] {
                let audit = try await client.send(.get, "/v1/audit?tenantId=\(id)&limit=1000").json["items"]?.arrayValue ?? []
                let purges = audit.filter { $0.objectValue?["action"] == .string("tenant.purged") }
                #expect(purges.count == 1 && purges.first?.objectValue?["actor"] == .string("retention"), "\(id): \(purges)")
            }
            #expect(try await first.purgeExpiredDeletions(retentionDays: 30) == 0, "nothing left to purge")
        }
        await second?.broker.tenants.store.close()
    }
}
