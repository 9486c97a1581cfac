import Foundation
import HTTPTypes
import JOSE
import Logging
import StoreTestSupport
import TenantRegistry
import Testing

@Suite("tenant registry over HTTP") struct RegistryTests {
    @Test("create answers 201 with Location and ETag; GET returns the document without the client secret", arguments: Backend.allCases)
    func createAndRead(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            let created = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1"))
            #expect(created.status == .created, "\(created.text)")
            #expect(created.headers[.location] == "/v1/tenants/tenant1")
            #expect(created.headers[.eTag] == "\"v1\"")
            let document = try created.json
            #expect(document["domain"] == .string("tenant1.expertflow.com"))
            #expect(document["status"] == .string("active"))
            #expect(document["deletedAt"] == .null)
            #expect(!created.text.contains("s3cret"))
            let read = try await client.send(.get, "/v1/tenants/tenant1")
            #expect(read.status == .ok)
            #expect(try read.json == document)
            #expect(!read.text.contains("clientSecret"))
            #expect(try read.json["twoFAConfig"]?.objectValue?["otpExpiry"] == .int(120))
        }
        let reopened = try await SQLTenantStore.open(
            try DatabaseLocation.parse(harness.databaseURL), sealer: harness.broker.tenants.store.sealer, logger: .init(label: "test"))
        let stored = try await reopened.tenant("tenant1")
        await reopened.close()
        #expect(stored?.keycloak.clientSecret == "s3cret-tenant1")
        #expect(harness.broker.tenants.directory.tenant(domain: "tenant1.expertflow.com")?.tenantId == "tenant1")
    }

    @Test("a full reload reads every tenant once, in pages, whatever the page size", arguments: Backend.allCases)
    func reloadInPages(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        // Ids whose byte order is not their creation order; one deleted (delete is logical: still loaded).
        let ids = ["m3", "a1", "z9", "b-2", "a10", "q7", "c5"]
        try await harness.run { client in
            for id in ids {
                let created = try await client.send(.post, "/v1/tenants", json: tenantBody(id))
                #expect(created.status == .created, "\(created.text)")
            }
            #expect(try await client.send(.delete, "/v1/tenants/q7").status == .noContent)
            // Inside `run`: the store is closed when it returns.
            let store = harness.broker.tenants.store
            for pageSize in [1, 2, 3, 7, 8, 5_000] {
                let loaded = try await store.allForView(pageSize: pageSize)
                #expect(loaded.map(\.tenantId) == ids.sorted(), "page size \(pageSize)")
                #expect(loaded.first { $0.tenantId == "q7" }?.storedStatus == .deleted, "page size \(pageSize)")
                #expect(loaded.allSatisfy { $0.keycloak.clientSecret == nil && $0.logo == nil }, "page size \(pageSize)")
            }
            // And through the service, into a fresh directory.
            let fresh = TenantService(store: store, baseDomain: "expertflow.com", logger: .init(label: "test"))
            try await fresh.reloadAll()
            #expect(fresh.directory.current.byId.keys.sorted() == ids.sorted())
        }
    }

    @Test("the periodic reload reads only what changed (updated_at index, with a lookback), and everything every fullReloadEvery-th time", arguments: Backend.allCases)
    func incrementalReload(backend: Backend) async throws {
        let clock = TestClock(Date())
        let harness = try await RegistryHarness.make(backend, clock: clock)
        try await harness.run { client in
            for index in 0..<30 { #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("r\(index)")).status == .created) }
            for name in ["sales", "support"] {
                #expect(try await client.send(.post, "/v1/tenants/r1/subtenants", json: .object(["subtenantId": .string(name)])).status == .created)
            }
            // Another instance on the same store, with no NOTIFY to help it.
            let other = TenantService(store: harness.broker.tenants.store, baseDomain: "expertflow.com", logger: .init(label: "test"), clock: { clock.now })
            #expect(try await other.reloadAll() == .init(full: true, tenants: 30, subtenants: 2))
            clock.set(clock.now.addingTimeInterval(600))
            // The first incremental reload looks back from the full one's start: everything written just before it.
            #expect(try await other.reloadChanges() == .init(full: false, tenants: 30, subtenants: 2))
            clock.set(clock.now.addingTimeInterval(600))
            #expect(try await other.reloadChanges() == .init(full: false, tenants: 0, subtenants: 0), "nothing changed: nothing read")
            #expect(try await client.send(.patch, "/v1/tenants/r5", json: .object(["features": .object(["reports": .bool(true)])])).status == .ok)
            #expect(try await client.send(.delete, "/v1/tenants/r1/subtenants/sales").status == .noContent)
            clock.set(clock.now.addingTimeInterval(30))
            #expect(try await other.reloadChanges() == .init(full: false, tenants: 1, subtenants: 1))
            #expect(other.directory.tenant(id: "r5")?.features == ["reports": true])
            #expect(other.directory.tenant(id: "r5")?.version == 2)
            #expect(other.subtenants.subtenant("r1", "sales")?.isDeleted == true)
            // The safety net: every fullReloadEvery-th periodic reload reads everything.
            var reports: [TenantService.ReloadReport] = []
            for _ in 0..<(TenantService.fullReloadEvery - 3) {
                clock.set(clock.now.addingTimeInterval(30))
                reports.append(try await other.reloadChanges())
            }
            #expect(reports.dropLast().allSatisfy { !$0.full } && reports.last == .init(full: true, tenants: 30, subtenants: 2), "\(reports)")
        }
    }

    @Test("every broken rule is reported at once with its field", arguments: Backend.allCases)
    func validation(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        let cases: [(JSONValue, [String])] = [
            (tenantBody("Tenant_1"), ["tenantId"]),
            (tenantBody("1tenant"), ["tenantId"]),
            (tenantBody(String(repeating: "a", count: 64)), ["tenantId"]),
            (tenantBody("t1") { $0["tenantId"] = .int(5) }, ["tenantId"]),
            (tenantBody("t1") { $0["keycloak"] = nil; $0["twoFAConfig"] = nil }, ["keycloak", "twoFAConfig"]),
            (
                tenantBody("t1") {
                    $0["twoFAConfig"] = .object(["isEnabled": .bool(true), "channelType": .string("Fax"), "otpExpiry": .int(5), "retryLimit": .int(11)])
                },
                ["twoFAConfig.channelType", "twoFAConfig.otpExpiry", "twoFAConfig.retryLimit", "twoFAConfig.serviceIdentifier"]
            ),
            (tenantBody("t1") { $0["twoFAConfig"] = .object(["isEnabled": .string("yes")]) }, ["twoFAConfig.isEnabled"]),
            (tenantBody("t1") { $0["twoFAConfig"] = .array([]) }, ["twoFAConfig"]),
            (
                tenantBody("t1") { $0["keycloak"] = .object(["realm": .string("t1"), "clientId": .string("c"), "Otp_Manager_Url": .string("ftp://x")]) },
                ["keycloak.Otp_Manager_Url", "keycloak.Otp_Manager_Url"]
            ),
            (tenantBody("t1") { $0["keycloak"] = .object(["realm": .string("t1"), "clientId": .string("c")]) }, ["keycloak.Otp_Manager_Url"]),
            (tenantBody("t1") { $0["twoFAConfig"] = .object(["isEnabled": .bool(true), "channelType": .array([.string("SMS"), .string("Email")]),
                "serviceIdentifier": .string("x"), "otpExpiry": .string("120"), "retryLimit": .double(2.5)]) },
             ["twoFAConfig.channelType", "twoFAConfig.otpExpiry", "twoFAConfig.retryLimit"]),
            (tenantBody("t1") { $0["logo"] = .object(["contentType": .string("image/png"), "data": .string("R0lGODlhAQABAAAAACw=")]) }, ["logo.data"]),
            (tenantBody("t1") { $0["logo"] = .object(["contentType": .string("image/gif"), "data": .string(pngBase64)]) }, ["logo.contentType"]),
            (tenantBody("t1") { $0["logo"] = .object(["contentType": .string("image/png"), "data": .string("not base64!")]) }, ["logo.data"]),
            (tenantBody("t1") { $0["logo"] = .object(["contentType": .string("image/svg+xml"),
                "data": .string(Data("<svg onload=\"alert(1)\"></svg>".utf8).base64EncodedString())]) }, ["logo.data"]),
            (tenantBody("t1") { $0["logo"] = .object(["contentType": .string("image/svg+xml"),
                "data": .string(Data("<svg/onload=alert(1)></svg>".utf8).base64EncodedString())]) }, ["logo.data"]),
            (tenantBody("t1") { $0["logo"] = .object(["contentType": .string("image/svg+xml"),
                "data": .string(Data("<svg><a href=\"&#106;avascript:alert(1)\"/></svg>".utf8).base64EncodedString())]) }, ["logo.data"]),
            (tenantBody("t1") { $0["subscription"] = .object(["expiresAt": .string("next year")]) }, ["subscription.expiresAt"]),
            (tenantBody("t1") { $0["status"] = .string("active"); $0["extra"] = .int(1) }, ["extra", "status"]),
            (tenantBody("t1") { $0["campaigns"] = .array([]); $0["mediaServer"] = .string("m") }, ["campaigns", "mediaServer"]),
            (tenantBody("t1") { $0["domain"] = .string("Not A Domain") }, ["domain"]),
            // mediaServer as the OpenAPI document's MediaServer: host and port only, a port a number in range.
            (tenantBody("t1") { $0["mediaServer"] = .object(["host": .string("media1.example.com"), "port": .string("5060")]) }, ["mediaServer.port"]),
            (tenantBody("t1") { $0["mediaServer"] = .object(["host": .string("media1.example.com"), "port": .int(0)]) }, ["mediaServer.port"]),
            (tenantBody("t1") { $0["mediaServer"] = .object(["port": .int(65536)]) }, ["mediaServer.port"]),
            (tenantBody("t1") { $0["mediaServer"] = .object(["port": .double(5060.5)]) }, ["mediaServer.port"]),
            (tenantBody("t1") { $0["mediaServer"] = .object(["host": .string("")]) }, ["mediaServer.host"]),
            (tenantBody("t1") { $0["mediaServer"] = .object(["host": .string("media 1; rm -rf")]) }, ["mediaServer.host"]),
            (tenantBody("t1") { $0["mediaServer"] = .object(["host": .string("10.0.0.1\u{0}.evil.example")]) }, ["mediaServer.host"]),
            (tenantBody("t1") { $0["mediaServer"] = .object(["host": .string("::1%eth0")]) }, ["mediaServer.host"]),
            (tenantBody("t1") { $0["mediaServer"] = .object(["host": .int(1), "sip": .bool(true)]) }, ["mediaServer.host", "mediaServer.sip"]),
        ]
        try await harness.run { client in
            for (body, fields) in cases {
                let reply = try await client.send(.post, "/v1/tenants", json: body)
                #expect(reply.status == .unprocessableContent, "\(body.serializedString().prefix(120))")
                #expect(reply.code == "validation_failed")
                #expect(reply.headers[.contentType] == "application/problem+json")
                #expect(try reply.errorFields == fields.sorted(), "\(reply.text)")
            }
            let list = try await client.send(.get, "/v1/tenants")
            #expect(try list.json["items"]?.arrayValue?.isEmpty == true, "a refused create must write nothing")
        }
    }

    @Test("2FA off stores the other four as null whatever was sent; a valid logo is kept byte for byte", arguments: Backend.allCases)
    func twoFAOffAndLogo(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            let body = tenantBody("t2") {
                $0["twoFAConfig"] = .object(["isEnabled": .bool(false), "channelType": .string("Fax"), "otpExpiry": .int(1)])
                $0["logo"] = .object(["contentType": .string("image/png"), "data": .string(pngBase64)])
            }
            let reply = try await client.send(.post, "/v1/tenants", json: body)
            #expect(reply.status == .created, "\(reply.text)")
            let twoFA = try reply.json["twoFAConfig"]?.objectValue
            #expect(twoFA == ["isEnabled": .bool(false), "channelType": .null, "serviceIdentifier": .null, "otpExpiry": .null, "retryLimit": .null])
            #expect(try reply.json["logo"]?.objectValue?["data"] == .string(pngBase64))
        }
    }

    @Test("malformed JSON is 400, a non-object 422, an oversized body 413, and nothing is written", arguments: Backend.allCases)
    func badBodies(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            for raw in ["{", "{\"tenantId\":\"a\",}", "nul", "{\"a\":1,\"a\":2}", "\u{FF}"] {
                let reply = try await client.send(.post, "/v1/tenants", raw: Array(raw.utf8))
                #expect(reply.status == .badRequest, "\(raw)")
                #expect(reply.code == "malformed_json")
            }
            for raw in ["[]", "42", "\"x\""] {
                #expect(try await client.send(.post, "/v1/tenants", raw: Array(raw.utf8)).status == .unprocessableContent)
            }
            let huge = tenantBody("big") { $0["campaigns"] = .object(["pad": .string(String(repeating: "x", count: 1_100_000))]) }
            let reply = try await client.send(.post, "/v1/tenants", json: huge)
            #expect(reply.status == .contentTooLarge)
            #expect(reply.code == "payload_too_large")
            #expect(try await client.send(.get, "/v1/tenants/big").status == .notFound)
        }
    }

    @Test("a duplicate id or domain is 409; concurrent creates of one id give exactly one 201", arguments: Backend.allCases)
    func duplicates(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("dup")).status == .created)
            let again = try await client.send(.post, "/v1/tenants", json: tenantBody("dup"))
            #expect(again.status == .conflict)
            #expect(again.code == "tenant_exists")
            let sameDomain = try await client.send(.post, "/v1/tenants", json: tenantBody("other") { $0["domain"] = .string("dup.expertflow.com") })
            #expect(sameDomain.status == .conflict)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<16 { group.addTask { try await client.send(.post, "/v1/tenants", json: tenantBody("race")).status } }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .created }.count == 1)
            // The others lose the race (409). On a loaded machine a create queued behind the others' commits may
            // reach its write deadline instead (503, rolled back; seen once with the whole suite running): never a
            // second 201, never another status.
            #expect(statuses.filter { $0 == .conflict || $0 == .serviceUnavailable }.count == 15, "\(statuses)")
            #expect(statuses.filter { $0 == .conflict }.count >= 1, "\(statuses)")
            let listed = try await client.send(.get, "/v1/tenants?limit=100")
            #expect(try listed.json["items"]?.arrayValue?.filter { $0.objectValue?["tenantId"] == .string("race") }.count == 1, "one tenant race, whatever the answers")
        }
    }

    @Test("ids that look like SQL injection are just invalid ids", arguments: Backend.allCases)
    func hostileIds(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("ok1")).status == .created)
            for id in ["x'; DROP TABLE tenants; --", "ok1' OR '1'='1", "../ok1", "ok1%00", "OK1"] {
                let create = try await client.send(.post, "/v1/tenants", json: tenantBody(id))
                #expect(create.status == .unprocessableContent)
                let encoded = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "x"
                let read = try await client.send(.get, "/v1/tenants/\(encoded)")
                #expect(read.status == .notFound, "\(id)")
                #expect(!read.text.contains("DROP"))
            }
            #expect(try await client.send(.get, "/v1/tenants/ok1").status == .ok)
        }
    }

    @Test("PATCH changes only what it names; fixed fields are field_not_updatable; a stale If-Match is 412", arguments: Backend.allCases)
    func patch(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            let created = try await client.send(.post, "/v1/tenants", json: tenantBody("p1"))
            let original = try created.json
            let logoOnly = try await client.send(
                .patch, "/v1/tenants/p1", json: .object(["logo": .object(["contentType": .string("image/png"), "data": .string(pngBase64)])]))
            #expect(logoOnly.status == .ok, "\(logoOnly.text)")
            var after = try logoOnly.json
            #expect(after["logo"] != nil)
            for key in ["twoFAConfig", "keycloak", "mediaServer", "campaigns", "dialer", "domain", "subscription", "createdAt"] {
                #expect(after[key] == original[key], "\(key) changed on a logo-only PATCH")
            }
            #expect(logoOnly.headers[.eTag] == "\"v2\"")

            let fixed = try await client.send(
                .patch, "/v1/tenants/p1",
                json: .object(["tenantId": .string("p2"), "campaigns": .object([:]), "dialer": .object([:]), "keycloak": .object(["realm": .string("x")])]))
            #expect(fixed.status == .unprocessableContent)
            #expect(fixed.code == "field_not_updatable")
            #expect(try fixed.errorFields == ["campaigns", "dialer", "keycloak.realm", "tenantId"])

            let partial2FA = try await client.send(.patch, "/v1/tenants/p1", json: .object(["twoFAConfig": .object(["isEnabled": .bool(true), "otpExpiry": .int(60)])]))
            #expect(partial2FA.status == .unprocessableContent)
            #expect(try partial2FA.errorFields == ["twoFAConfig.channelType", "twoFAConfig.retryLimit", "twoFAConfig.serviceIdentifier"])

            let stale = try await client.send(.patch, "/v1/tenants/p1", json: .object(["mediaServer": .null]), headers: [.ifMatch: "\"v1\""])
            #expect(stale.status == .preconditionFailed)
            let fresh = try await client.send(
                .patch, "/v1/tenants/p1", json: .object(["keycloak": .object(["Otp_Manager_Url": .string("https://otp.example/")])]),
                headers: [.ifMatch: "\"v2\""])
            #expect(fresh.status == .ok, "\(fresh.text)")
            after = try fresh.json
            #expect(after["keycloak"]?.objectValue?["Otp_Manager_Url"] == .string("https://otp.example/"))
            #expect(after["keycloak"]?.objectValue?["realm"] == .string("p1"))
            let read = try await client.send(.get, "/v1/tenants/p1")
            #expect(read.headers[.eTag] == "\"v3\"")
            #expect(try await client.send(.patch, "/v1/tenants/nope", json: .object(["mediaServer": .null])).status == .notFound)

            // A media server's port as text is refused and changes nothing; an IP address is a host.
            let textPort = try await client.send(.patch, "/v1/tenants/p1", json: .object(["mediaServer": .object(["host": .string("m2.example.com"), "port": .string("x")])]))
            #expect(textPort.status == .unprocessableContent, "\(textPort.text)")
            #expect(try textPort.errorFields == ["mediaServer.port"], "\(textPort.text)")
            #expect(try await client.send(.get, "/v1/tenants/p1").headers[.eTag] == "\"v3\"", "a refused PATCH wrote nothing")
            for host in ["10.0.0.7", "2001:db8::7", "MEDIA-1.example.com"] {
                let moved = try await client.send(.patch, "/v1/tenants/p1", json: .object(["mediaServer": .object(["host": .string(host), "port": .int(5061)])]))
                #expect(moved.status == .ok, "\(host): \(moved.text)")
                #expect(try moved.json["mediaServer"] == .object(["host": .string(host), "port": .int(5061)]))
            }
        }
    }

    @Test("DELETE is logical: 204, status deleted, record and audit kept, view updated, tenant-only keys revoked", arguments: Backend.allCases)
    func logicalDelete(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("d1")).status == .created)
            let keyReply = try await client.send(
                .post, "/v1/api-keys", json: .object(["name": .string("d1 reader"), "tenants": .array([.string("d1")]), "scopes": .array([.string("tenants:read")])]))
            let limitedKey = try #require(try keyReply.json["key"]?.stringValue)
            #expect(try await client.send(.get, "/v1/tenants/d1", key: limitedKey).status == .ok)
            #expect(harness.broker.tenants.directory.tenant(id: "d1")?.status(at: harness.clock.now) == .active)

            let deleted = try await client.send(.delete, "/v1/tenants/d1")
            #expect(deleted.status == .noContent)
            #expect(harness.broker.tenants.directory.tenant(id: "d1")?.status(at: harness.clock.now) == .deleted)
            let read = try await client.send(.get, "/v1/tenants/d1")
            #expect(try read.json["status"] == .string("deleted"))
            #expect(try read.json["deletedAt"]?.stringValue != nil)
            #expect(try await client.send(.get, "/v1/tenants/d1", key: limitedKey).status == .unauthorized)
            #expect(try await client.send(.patch, "/v1/tenants/d1", json: .object(["mediaServer": .null])).status == .notFound)
            #expect(try await client.send(.delete, "/v1/tenants/d1").status == .notFound)
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("d1")).status == .conflict)
            let audit = try await client.send(.get, "/v1/audit?tenantId=d1")
            let actions = try audit.json["items"]?.arrayValue?.compactMap { $0.objectValue?["action"]?.stringValue }
            #expect(actions == ["tenant.create", "tenant.delete"])
        }
    }

    @Test("suspend and resume flip the status; expiry is derived from the clock without a job", arguments: Backend.allCases)
    func lifecycle(backend: Backend) async throws {
        let clock = TestClock(RFC3339.parse("2026-11-01T00:00:00Z")!)
        let harness = try await RegistryHarness.make(backend, clock: clock)
        try await harness.run { client in
            let body = tenantBody("l1") { $0["subscription"] = .object(["expiresAt": .string("2026-12-01T00:00:00Z")]) }
            #expect(try await client.send(.post, "/v1/tenants", json: body).status == .created)
            #expect(try await client.send(.post, "/v1/tenants/l1/suspend").json["status"] == .string("suspended"))
            #expect(harness.broker.tenants.directory.tenant(id: "l1")?.status(at: clock.now) == .suspended)
            #expect(try await client.send(.post, "/v1/tenants/l1/resume").json["status"] == .string("active"))
            clock.set(RFC3339.parse("2026-12-01T00:00:01Z")!)
            #expect(try await client.send(.get, "/v1/tenants/l1").json["status"] == .string("expired"))
            #expect(harness.broker.tenants.directory.tenant(id: "l1")?.status(at: clock.now) == .expired)
            let expired = try await client.send(.get, "/v1/tenants?status=expired")
            #expect(try expired.json["items"]?.arrayValue?.count == 1)
            let active = try await client.send(.get, "/v1/tenants?status=active")
            #expect(try active.json["items"]?.arrayValue?.isEmpty == true)
            let renewed = try await client.send(.patch, "/v1/tenants/l1", json: .object(["subscription": .object(["expiresAt": .string("2027-12-01T00:00:00Z")])]))
            #expect(try renewed.json["status"] == .string("active"))
        }
    }

    @Test("listing pages with a cursor and filters by status; bad query values are 422", arguments: Backend.allCases)
    func listing(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            for index in 0..<7 { #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("page\(index)")).status == .created) }
            _ = try await client.send(.post, "/v1/tenants/page3/suspend")
            var seen = [String]()
            var cursor: String?
            repeat {
                let reply = try await client.send(.get, "/v1/tenants?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""))
                let json = try reply.json
                seen += json["items"]?.arrayValue?.compactMap { $0.objectValue?["tenantId"]?.stringValue } ?? []
                cursor = json["nextCursor"]?.stringValue
            } while cursor != nil
            #expect(seen == (0..<7).map { "page\($0)" })
            let whole = try await client.send(.get, "/v1/tenants?limit=7").json
            #expect(whole["items"]?.arrayValue?.count == 7)
            #expect(whole["nextCursor"] == .null, "a page holding the last row has no next page")
            let suspended = try await client.send(.get, "/v1/tenants?status=suspended").json["items"]?.arrayValue
            #expect(suspended?.count == 1)
            for query in ["limit=0", "limit=501", "limit=x", "status=gone", "cursor=!!", "cursor=" + Base64URL.encode(Array("BAD ID".utf8))] {
                #expect(try await client.send(.get, "/v1/tenants?\(query)").status == .unprocessableContent, "\(query)")
            }
        }
    }

    @Test("the dashboard counts statuses, new tenants by UTC month (zero-filled) and upcoming expiries", arguments: Backend.allCases)
    func dashboard(backend: Backend) async throws {
        let clock = TestClock(RFC3339.parse("2026-09-15T12:00:00Z")!)
        let harness = try await RegistryHarness.make(backend, clock: clock)
        try await harness.run { client in
            func create(_ id: String, at date: String, expires: String?) async throws {
                clock.set(RFC3339.parse(date)!)
                let body = tenantBody(id) { $0["subscription"] = .object(["expiresAt": expires.map(JSONValue.string) ?? .null]) }
                #expect(try await client.send(.post, "/v1/tenants", json: body).status == .created)
            }
            try await create("sep1", at: "2026-09-15T12:00:00Z", expires: "2026-12-10T00:00:00Z")
            try await create("sep2", at: "2026-09-30T23:59:59Z", expires: nil)
            try await create("oct1", at: "2026-10-01T00:00:00Z", expires: "2026-11-20T00:00:00Z")
            try await create("nov1", at: "2026-11-05T08:00:00Z", expires: "2026-11-30T00:00:00Z")
            try await create("nov2", at: "2026-11-06T08:00:00Z", expires: "2027-03-01T00:00:00Z")
            _ = try await client.send(.post, "/v1/tenants/nov2/suspend")
            _ = try await client.send(.delete, "/v1/tenants/sep2")
            clock.set(RFC3339.parse("2026-11-23T00:00:00Z")!)

            let summary = try await client.send(.get, "/v1/dashboard/summary").json
            #expect(summary["total"] == .int(5))
            #expect(summary["active"] == .int(2))
            #expect(summary["inactive"] == .int(3))
            #expect(summary["byStatus"] == .object(["active": .int(2), "suspended": .int(1), "expired": .int(1), "deleted": .int(1), "purged": .int(0)]))

            let months = try await client.send(.get, "/v1/dashboard/new-tenants?months=4").json["months"]?.arrayValue
            let pairs = months?.compactMap { row -> String? in
                guard let object = row.objectValue, let month = object["month"]?.stringValue, case .int(let count)? = object["count"] else { return nil }
                return "\(month)=\(count)"
            }
            #expect(pairs == ["2026-08=0", "2026-09=2", "2026-10=1", "2026-11=2"])

            let expiries = try await client.send(.get, "/v1/dashboard/upcoming-expiries?days=30").json["items"]?.arrayValue
            #expect(expiries?.compactMap { $0.objectValue?["tenantId"]?.stringValue } == ["nov1", "sep1"])
            #expect(expiries?.first?.objectValue?["daysLeft"] == .int(7))
            for query in ["new-tenants?months=0", "new-tenants?months=61", "upcoming-expiries?days=366", "upcoming-expiries?days=-1"] {
                #expect(try await client.send(.get, "/v1/dashboard/\(query)").status == .unprocessableContent, "\(query)")
            }
        }
    }

    @Test("callers: no credentials 401 with WWW-Authenticate; limited keys see only their tenants; revoked keys stop", arguments: Backend.allCases)
    func authorisation(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            for id in ["a1", "b1"] { #expect(try await client.send(.post, "/v1/tenants", json: tenantBody(id)).status == .created) }
            func key(_ scopes: [String], _ tenants: [String]) async throws -> String {
                let reply = try await client.send(
                    .post, "/v1/api-keys",
                    json: .object(["name": .string("k"), "scopes": .array(scopes.map(JSONValue.string)), "tenants": .array(tenants.map(JSONValue.string))]))
                #expect(reply.status == .created)
                return try #require(try reply.json["key"]?.stringValue)
            }
            let reader = try await key(["tenants:read"], ["a1"])
            let writer = try await key(["tenants:write"], ["a1"])
            let minter = try await key(["token:mint"], ["*"])

            let anonymous = try await client.send(.get, "/v1/tenants/a1", key: .some(nil))
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            for bad in ["tbk_nope_x", "tbk_\(reader.dropFirst(4).prefix(12))_wrong", "Basic abc", "tbk_", reader + "x"] {
                #expect(try await client.send(.get, "/v1/tenants/a1", key: bad).status == .unauthorized, "\(bad.prefix(20))")
            }
            #expect(try await client.send(.get, "/v1/tenants/a1", key: reader).status == .ok)
            #expect(try await client.send(.get, "/v1/tenants/b1", key: reader).status == .notFound)
            #expect(try await client.send(.get, "/v1/tenants/zz", key: reader).status == .notFound)
            #expect(try await client.send(.patch, "/v1/tenants/a1", json: .object(["mediaServer": .null]), key: reader).status == .forbidden)
            #expect(try await client.send(.patch, "/v1/tenants/a1", json: .object(["mediaServer": .null]), key: writer).status == .ok)
            let subscription = try await client.send(.patch, "/v1/tenants/a1", json: .object(["subscription": .null]), key: writer)
            #expect(subscription.code == "field_not_updatable")
            #expect(try await client.send(.patch, "/v1/tenants/b1", json: .object(["mediaServer": .null]), key: writer).status == .notFound)
            #expect(try await client.send(.post, "/v1/tenants/a1/suspend", key: writer).status == .forbidden)
            #expect(try await client.send(.post, "/v1/tenants/b1/suspend", key: writer).status == .notFound)
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("c1"), key: writer).status == .forbidden)
            #expect(try await client.send(.get, "/v1/dashboard/summary", key: reader).status == .forbidden)
            #expect(try await client.send(.get, "/v1/api-keys", key: reader).status == .forbidden)
            #expect(try await client.send(.get, "/v1/tenants/a1", key: minter).status == .forbidden)
            let listed = try await client.send(.get, "/v1/tenants", key: reader).json["items"]?.arrayValue
            #expect(listed?.compactMap { $0.objectValue?["tenantId"]?.stringValue } == ["a1"])
            #expect(try await client.send(.get, "/v1/audit?tenantId=b1", key: reader).status == .notFound)

            let keys = try await client.send(.get, "/v1/api-keys").json["items"]?.arrayValue ?? []
            #expect(!keys.isEmpty)
            #expect(keys.allSatisfy { $0.objectValue?["key"] == nil && $0.objectValue?["secretHash"] == nil })
            let readerId = String(reader.dropFirst(4).prefix { $0 != "_" })
            #expect(try await client.send(.delete, "/v1/api-keys/\(readerId)").status == .noContent)
            #expect(try await client.send(.get, "/v1/tenants/a1", key: reader).status == .unauthorized)
            #expect(try await client.send(.delete, "/v1/api-keys/nosuchkey").status == .notFound)
            let badKey = try await client.send(.post, "/v1/api-keys", json: .object(["name": .string(""), "scopes": .array([.string("root")]), "tenants": .array([])]))
            #expect(try badKey.errorFields == ["name", "scopes[0]", "tenants"], "\(badKey.text)")
        }
    }

    @Test("audit records who did what, in order, with the request id")
    func audit() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("au1"), headers: [HTTPField.Name("X-Request-Id")!: "req-create-1"])
            _ = try await client.send(.patch, "/v1/tenants/au1", json: .object(["mediaServer": .null]), headers: [HTTPField.Name("X-Request-Id")!: "req-patch-1"])
            _ = try await client.send(.post, "/v1/tenants/au1/suspend")
            let events = try await client.send(.get, "/v1/audit?tenantId=au1").json["items"]?.arrayValue?.compactMap(\.objectValue) ?? []
            #expect(events.map { $0["action"]?.stringValue } == ["tenant.create", "tenant.update", "tenant.suspend"])
            #expect(events.map { $0["requestId"]?.stringValue }.prefix(2) == ["req-create-1", "req-patch-1"])
            #expect(events.allSatisfy { $0["actor"]?.stringValue?.hasPrefix("api-key:") == true && $0["outcome"] == .string("success") })
            #expect(try await client.send(.get, "/v1/audit?since=yesterday").status == .unprocessableContent)
        }
    }
}
