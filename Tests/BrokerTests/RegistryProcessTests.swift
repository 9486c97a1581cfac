import AsyncHTTPClient
import Foundation
import JOSE
import NIOCore
import NIOHTTP1
import StoreTestSupport
import Synchronization
import TenantRegistry
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension HTTP {
    /// Sends a JSON body with a bearer key (none when `key` is nil).
    static func send(_ method: HTTPMethod, _ url: String, key: String?, json: JSONValue? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: json.serialized()))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 4 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Array(buffer: body))
    }
}

extension HTTP {
    /// Posts a form to an OAuth endpoint with the API key as HTTP Basic client credentials.
    static func sendForm(_ url: String, key: String, fields: [(String, String)]) async throws -> Reply {
        let id = key.dropFirst(4).prefix { $0 != "_" }
        let secret = key.dropFirst(5 + id.count)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Basic " + Data("tbk_\(id):\(secret)".utf8).base64EncodedString())
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(bytes: Array(body.utf8)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let collected = try await response.body.collect(upTo: 1 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Array(buffer: collected))
    }
}

/// Creates an admin key through the CLI, as an operator bootstrapping a fresh install would.
func bootstrapAdminKey(database: String, directory: String) async throws -> String {
    let result = try await BrokerProcess.run(
        ["api-keys", "create", "--name", "bootstrap", "--scopes", "admin", "--tenants", "*", "--database", database, "--create"], directory: directory)
    guard result.status == 0 else { throw TestFailure("api-keys create failed: \(result.stderr)") }
    let key = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    guard APIKeyRecord.parse(key) != nil else { throw TestFailure("api-keys create printed no key: \(result.stdout)") }
    return key
}

/// A list several tasks append to.
final class LockedList: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ item: String) { storage.withLock { $0.append(item) } }
    var count: Int { storage.withLock { $0.count } }
    var items: [String] { storage.withLock { $0 } }
}

@Suite("registry with the real binary", .serialized) struct RegistryProcessTests {
    @Test("SIGKILL in the middle of a stream of creates loses no acknowledged tenant and leaves none half-written", arguments: Backend.allCases)
    func durability(backend: Backend) async throws {
        let scratch = ScratchDirectory()
        let database = try backend.freshDatabase(in: scratch)
        let key = try await bootstrapAdminKey(database: database, directory: scratch.path)
        let broker = try await BrokerProcess.serve(keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--database", database])
        let acknowledged = LockedList()
        let writers = Task {
            await withTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        for index in 0..<500 {
                            let id = "w\(writer)-\(index)"
                            guard let reply = try? await HTTP.send(.POST, broker.baseURL + "/v1/tenants", key: key, json: tenantBody(id)) else { return }
                            if reply.status == 201 { acknowledged.append(id) }
                        }
                    }
                }
            }
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while acknowledged.count < 40, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        broker.signal(SIGKILL)
        await writers.value
        _ = try await broker.waitForExit()
        let confirmed = acknowledged.items
        #expect(confirmed.count >= 40)

        let restarted = try await BrokerProcess.serve(keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--database", database])
        defer { restarted.signal(SIGKILL) }
        for id in confirmed {
            let reply = try await HTTP.send(.GET, restarted.baseURL + "/v1/tenants/\(id)", key: key)
            #expect(reply.status == 200, "acknowledged tenant \(id) is missing after SIGKILL")
            if reply.status == 200 {
                let document = try JSONParser().parseObject(reply.body)
                #expect(document["twoFAConfig"]?.objectValue?["retryLimit"] == .int(3), "tenant \(id) is half-written")
                #expect(document["mediaServer"]?.objectValue?["port"] == .int(5060))
            }
        }
        // Whatever else reached the store is whole too: every listed tenant reads back completely.
        var cursor: String?
        var listed = 0
        repeat {
            let page = try JSONParser().parseObject(
                try await HTTP.send(.GET, restarted.baseURL + "/v1/tenants?limit=500" + (cursor.map { "&cursor=\($0)" } ?? ""), key: key).body)
            listed += page["items"]?.arrayValue?.count ?? 0
            cursor = page["nextCursor"]?.stringValue
        } while cursor != nil
        #expect(listed >= confirmed.count)
    }

    @Test("two brokers on one PostgreSQL see each other's creates, updates, suspensions and deletions within 2 s")
    func twoInstances() async throws {
        let scratch = ScratchDirectory()
        let database = try Backend.postgres.freshDatabase(in: scratch)
        let key = try await bootstrapAdminKey(database: database, directory: scratch.path)
        // Every instance of one store needs the same secrets key (each has its own key ring here).
        let shared = ["TOKEN_BROKER_SECRETS_KEY": Data(Crypto.randomBytes(32)).base64EncodedString()]
        let a = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys-a", directory: scratch.path, extraArguments: ["--database", database], environment: shared)
        defer { a.signal(SIGKILL) }
        let b = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys-b", directory: scratch.path, extraArguments: ["--database", database], environment: shared)
        defer { b.signal(SIGKILL) }

        /// Waits until B's in-memory view (what the dashboard and, later, minting read) shows `expected`.
        func seenOnB(_ what: String, _ expected: [String: JSONValue]) async throws {
            let start = ContinuousClock.now
            var last: JSONValue = .null
            while ContinuousClock.now - start < .seconds(2) {
                let summary = try JSONParser().parseObject(try await HTTP.send(.GET, b.baseURL + "/v1/dashboard/summary", key: key).body)
                last = summary["byStatus"] ?? .null
                if last == .object(expected) { return }
                try await Task.sleep(for: .milliseconds(20))
            }
            Issue.record("B did not see the \(what) within 2 s; last byStatus \(last.serializedString())")
        }
        func counts(active: Int, suspended: Int, deleted: Int) -> [String: JSONValue] {
            ["active": .int(Int64(active)), "suspended": .int(Int64(suspended)), "expired": .int(0), "deleted": .int(Int64(deleted)), "purged": .int(0)]
        }
        #expect(try await HTTP.send(.POST, a.baseURL + "/v1/tenants", key: key, json: tenantBody("shared1")).status == 201)
        try await seenOnB("create", counts(active: 1, suspended: 0, deleted: 0))
        #expect(try await HTTP.send(.POST, a.baseURL + "/v1/tenants/shared1/suspend", key: key).status == 200)
        try await seenOnB("suspension", counts(active: 0, suspended: 1, deleted: 0))
        #expect(try await HTTP.send(.POST, a.baseURL + "/v1/tenants/shared1/resume", key: key).status == 200)
        try await seenOnB("resumption", counts(active: 1, suspended: 0, deleted: 0))
        let patched = try await HTTP.send(
            .PATCH, a.baseURL + "/v1/tenants/shared1", key: key,
            json: .object(["subscription": .object(["expiresAt": .string(RFC3339.format(Date().addingTimeInterval(86_400 * 3)))])]))
        #expect(patched.status == 200)
        let start = ContinuousClock.now
        var expiries: [JSONValue] = []
        while ContinuousClock.now - start < .seconds(2) {
            expiries = try JSONParser().parseObject(try await HTTP.send(.GET, b.baseURL + "/v1/dashboard/upcoming-expiries?days=7", key: key).body)["items"]?.arrayValue ?? []
            if !expiries.isEmpty { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(expiries.count == 1, "B did not see the update within 2 s")
        // A token minted on A verifies on B; revoked on A, B refuses it within 2 s.
        let minted = try JSONParser().parseObject(try await HTTP.send(.POST, a.baseURL + "/v1/tenants/shared1/token", key: key).body)
        let token = try #require(minted["access_token"]?.stringValue)
        #expect(try await HTTP.get(a.baseURL + "/v1/verify", headers: [("Authorization", "Bearer \(token)")]).status == 200)
        let revoked = try await HTTP.sendForm(a.baseURL + "/oauth2/revoke", key: key, fields: [("token", token)])
        #expect(revoked.status == 200)
        #expect(try await HTTP.get(a.baseURL + "/v1/verify", headers: [("Authorization", "Bearer \(token)")]).status == 401)

        // A subtenant created on A can be minted for on B within 2 s; deleted on A, its token stops on B within 2 s.
        #expect(try await HTTP.send(.POST, a.baseURL + "/v1/tenants/shared1/subtenants", key: key, json: .object(["subtenantId": .string("sub1")])).status == 201)
        var subtenantToken: String?
        let subtenantStart = ContinuousClock.now
        while subtenantToken == nil, ContinuousClock.now - subtenantStart < .seconds(2) {
            let reply = try await HTTP.send(.POST, b.baseURL + "/v1/tenants/shared1/token", key: key, json: .object(["subtenant": .string("sub1")]))
            if reply.status == 200 { subtenantToken = try JSONParser().parseObject(reply.body)["access_token"]?.stringValue } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        let onB = try #require(subtenantToken, "B did not see the subtenant within 2 s")
        #expect(try await HTTP.get(b.baseURL + "/v1/verify", headers: [("Authorization", "Bearer \(onB)")]).status == 200)
        #expect(try await HTTP.send(.DELETE, a.baseURL + "/v1/tenants/shared1/subtenants/sub1", key: key).status == 204)
        var stillAccepted = true
        let deleteStart = ContinuousClock.now
        while stillAccepted, ContinuousClock.now - deleteStart < .seconds(2) {
            stillAccepted = try await HTTP.get(b.baseURL + "/v1/verify", headers: [("Authorization", "Bearer \(onB)")]).status == 200
            if stillAccepted { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(!stillAccepted, "B still accepted the deleted subtenant's token after 2 s")

        // A new mint limit PATCHed on A holds on B within 2 s (its answers name it, and it refuses past it).
        #expect(try await HTTP.send(.PATCH, a.baseURL + "/v1/tenants/shared1", key: key, json: .object(["limits": .object(["mintPerSecond": .int(1)])])).status == 200)
        var policyOnB: String?
        let limitStart = ContinuousClock.now
        while policyOnB != "\"mint\";q=1;w=1", ContinuousClock.now - limitStart < .seconds(2) {
            policyOnB = try await HTTP.send(.POST, b.baseURL + "/v1/tenants/shared1/token", key: key).headers.first(name: "RateLimit-Policy")
            if policyOnB != "\"mint\";q=1;w=1" { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(policyOnB == "\"mint\";q=1;w=1", "B did not see the new mint limit within 2 s")
        var limitedOnB = false
        for _ in 0..<3 where !limitedOnB { limitedOnB = try await HTTP.send(.POST, b.baseURL + "/v1/tenants/shared1/token", key: key).status == 429 }
        #expect(limitedOnB, "B refuses mints past the new limit")

        #expect(try await HTTP.send(.DELETE, a.baseURL + "/v1/tenants/shared1", key: key).status == 204)
        try await seenOnB("deletion", counts(active: 0, suspended: 0, deleted: 1))
    }

    @Test("a token revoked on one broker is refused by another on the same PostgreSQL within 2 s")
    func revocationAcrossInstances() async throws {
        let scratch = ScratchDirectory()
        let database = try Backend.postgres.freshDatabase(in: scratch)
        let key = try await bootstrapAdminKey(database: database, directory: scratch.path)
        // Both instances share one key ring, as a Kubernetes Secret would give them.
        let a = try await BrokerProcess.serve(keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--database", database, "--issuer", "https://auth.test"])
        defer { a.signal(SIGKILL) }
        let b = try await BrokerProcess.serve(keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--database", database, "--issuer", "https://auth.test"])
        defer { b.signal(SIGKILL) }
        #expect(try await HTTP.send(.POST, a.baseURL + "/v1/tenants", key: key, json: tenantBody("rv1")).status == 201)
        let minted = try JSONParser().parseObject(try await HTTP.send(.POST, a.baseURL + "/v1/tenants/rv1/token", key: key).body)
        let token = try #require(minted["access_token"]?.stringValue)
        let bearer = [("Authorization", "Bearer \(token)")]
        var start = ContinuousClock.now
        while try await HTTP.get(b.baseURL + "/v1/verify", headers: bearer).status != 200, ContinuousClock.now - start < .seconds(2) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await HTTP.get(b.baseURL + "/v1/verify", headers: bearer).status == 200, "B must accept A's token (and cache it)")
        #expect(try await HTTP.sendForm(a.baseURL + "/oauth2/revoke", key: key, fields: [("token", token)]).status == 200)
        start = ContinuousClock.now
        var status = 200
        while ContinuousClock.now - start < .seconds(2) {
            status = try await HTTP.get(b.baseURL + "/v1/verify", headers: bearer).status
            if status == 401 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(status == 401, "B still accepted the revoked token after 2 s")
    }

    @Test("the database vanishing mid-flight answers 503 and /readyz turns 503, with no partial write")
    func databaseGone() async throws {
        let scratch = ScratchDirectory()
        let database = try Backend.postgres.freshDatabase(in: scratch)
        let key = try await bootstrapAdminKey(database: database, directory: scratch.path)
        let broker = try await BrokerProcess.serve(keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--database", database])
        defer { broker.signal(SIGKILL) }
        #expect(try await HTTP.send(.POST, broker.baseURL + "/v1/tenants", key: key, json: tenantBody("before")).status == 201)
        let name = String(URLComponents(string: database)!.path.dropFirst())
        try Backend.psql(try Backend.postgresURL, "DROP DATABASE \(name) WITH (FORCE)")
        let reply = try await HTTP.send(.POST, broker.baseURL + "/v1/tenants", key: key, json: tenantBody("after"))
        // The API key lookup or the write fails: either way the client gets 503, never 500.
        #expect(reply.status == 503, "\(reply.text)")
        #expect(!reply.text.contains("broker:broker"))
        let ready = try await HTTP.get(broker.baseURL + "/readyz")
        #expect(ready.status == 503)
        #expect(ready.text.contains("store"))
        #expect(try await HTTP.get(broker.baseURL + "/healthz").status == 200)
        #expect(try await HTTP.get(broker.baseURL + "/.well-known/jwks.json").status == 200)
    }

    @Test("migrate is idempotent, and several instances migrating one fresh database at once all succeed", arguments: Backend.allCases)
    func concurrentMigrations(backend: Backend) async throws {
        let scratch = ScratchDirectory()
        let database = try backend.freshDatabase(in: scratch)
        let results = try await withThrowingTaskGroup(of: (Int32, String).self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let result = try await BrokerProcess.run(["migrate", "--database", database, "--create"], directory: scratch.path)
                    return (result.status, result.stderr)
                }
            }
            return try await group.reduce(into: [(Int32, String)]()) { $0.append($1) }
        }
        for (status, stderr) in results { #expect(status == 0, "\(stderr)") }
        let again = try await BrokerProcess.run(["migrate", "--database", database], directory: scratch.path)
        #expect(again.status == 0)
        #expect(again.stdout.contains("up to date"))
        #expect(!again.stdout.contains("broker:broker"), "the password must not be printed")
    }

    @Test("an unreachable database stops start-up with a clear error and a non-zero exit")
    func unreachableDatabase() async throws {
        let scratch = ScratchDirectory()
        let result = try await BrokerProcess.run(
            ["serve", "--port", "0", "--keys-dir", scratch.path + "/keys", "--database", "postgres://broker:secretpw@127.0.0.1:1/nowhere"],
            directory: scratch.path)
        #expect(result.status == 1)
        #expect(result.stderr.contains("127.0.0.1:1"))
        #expect(!result.stderr.contains("secretpw"))
    }
}

@Suite("configuration reload with the real binary") struct ConfigurationReloadTests {
    @Test("SIGHUP applies a changed config file (token TTLs, log level, tenants labelled in metrics) while a client loops, with zero failed requests")
    func reloadConfig() async throws {
        let scratch = ScratchDirectory()
        let database = "sqlite:\(scratch.path)/db.sqlite"
        let configPath = scratch.path + "/config.json"
        func writeConfig(ttl: Int, maxTTL: Int, level: String, metricsTenants: String = "", keycloakTimeout: Int = 10) throws {
            try Data(
                "{\"tokenTtl\": \(ttl), \"maxTokenTtl\": \(maxTTL), \"logLevel\": \"\(level)\", \"metricsTenants\": \"\(metricsTenants)\", \"database\": \"\(database)\", \"keycloakTimeout\": \(keycloakTimeout)}"
                    .utf8
            ).write(to: URL(fileURLWithPath: configPath))
        }
        try writeConfig(ttl: 300, maxTTL: 3600, level: "info")
        let key = try await bootstrapAdminKey(database: database, directory: scratch.path)
        let broker = try await BrokerProcess.serve(keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--config", configPath])
        defer { broker.signal(SIGKILL) }
        #expect(try await HTTP.send(.POST, broker.baseURL + "/v1/tenants", key: key, json: tenantBody("t1")).status == 201)
        func mint(ttl: Int? = nil) async throws -> HTTP.Reply {
            try await HTTP.send(.POST, broker.baseURL + "/v1/tenants/t1/token", key: key, json: .object(ttl.map { ["ttl": .int(Int64($0))] } ?? [:]))
        }
        #expect(try JSONParser().parseObject(try await mint().body)["expires_in"] == .int(300))
        #expect(try await mint(ttl: 1800).status == 200)

        let stop = Atomic<Bool>(false)
        let done = Atomic<Int>(0)
        let loop = Task { () -> (requests: Int, failures: [String]) in
            var requests = 0
            var failures = [String]()
            while !stop.load(ordering: .relaxed), requests < 20_000 {
                requests += 1
                defer { done.store(requests, ordering: .relaxed) }
                do {
                    let reply = try await mint()
                    if reply.status != 200 { failures.append("status \(reply.status)") }
                } catch {
                    failures.append(String(describing: error))
                }
            }
            return (requests, failures)
        }
        // Requests before, during and after the reload (waiting on counts, not on time, so a busy machine cannot skip a phase).
        let deadline = ContinuousClock.now + .seconds(20)
        while done.load(ordering: .relaxed) < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        try writeConfig(ttl: 120, maxTTL: 600, level: "debug", metricsTenants: "t1", keycloakTimeout: 20)
        broker.signal(SIGHUP)
        while !broker.log.contains("configuration reloaded"), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let atReload = done.load(ordering: .relaxed)
        while done.load(ordering: .relaxed) < atReload + 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        stop.store(true, ordering: .relaxed)
        let result = await loop.value
        #expect(result.requests >= 6)
        #expect(result.failures.isEmpty, "\(result.failures.prefix(5))")
        #expect(broker.log.contains("configuration reloaded"))
        #expect(try JSONParser().parseObject(try await mint().body)["expires_in"] == .int(120), "the new default TTL applies")
        #expect(try await mint(ttl: 1800).status == 422, "the new maximum applies")
        #expect(broker.log.contains("\"level\":\"debug\""), "debug lines appear after the reload")
        let metrics = try await HTTP.get(broker.baseURL + "/metrics").text
        #expect(metrics.contains(#"token_broker_tokens_minted_total{endpoint="v1",tenant="other"}"#), "mints before the reload")
        #expect(metrics.contains(#"token_broker_tokens_minted_total{endpoint="v1",tenant="t1"}"#), "mints after it: t1 is now listed")
        #expect(broker.log.contains("metricsTenants"), "the reload names the changed setting")
        // A setting that applies only at start (any of them, not a hand-kept few) is named in the warning.
        let warning = broker.log.split(separator: "\n").first { $0.contains("only apply after a restart") }
        #expect(warning?.contains("keycloakTimeout") == true, "\(warning ?? "no warning")")
        #expect(warning?.contains("tokenTtl") == false && warning?.contains("database") == false)

        // A config file that no longer loads keeps the running configuration.
        try Data("{\"tokenTtl\": \"soon\"}".utf8).write(to: URL(fileURLWithPath: configPath))
        broker.signal(SIGHUP)
        let second = ContinuousClock.now + .seconds(10)
        while !broker.log.contains("configuration reload failed"), ContinuousClock.now < second { try await Task.sleep(for: .milliseconds(20)) }
        #expect(broker.log.contains("configuration reload failed"))
        #expect(try JSONParser().parseObject(try await mint().body)["expires_in"] == .int(120))
    }
}

/// The PostgreSQL of one test behind a proxy that can cut it off and bring it back.
final class PausableProxy: Sendable {
    let script: LoopbackScript
    var port: Int { script.port }

    init(target: URLComponents) throws {
        script = try LoopbackScript("pausable-proxy.py", [target.host ?? "127.0.0.1", String(target.port ?? 5432)])
    }

    func cut() { kill(script.pid, SIGUSR1) }
    func restore() { kill(script.pid, SIGUSR2) }
}

@Suite("the store lost at run time") struct StoreOutageTests {
    @Test("PostgreSQL cut off: /readyz 503, mint and verify keep serving from memory, writes 503; back without a restart")
    func storeLostAndBack() async throws {
        let scratch = ScratchDirectory()
        let database = try Backend.postgres.freshDatabase(in: scratch)
        let proxy = try PausableProxy(target: URLComponents(string: database)!)
        var proxied = URLComponents(string: database)!
        proxied.port = proxy.port
        let key = try await bootstrapAdminKey(database: database, directory: scratch.path)
        let broker = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--database", proxied.string!])
        defer { broker.signal(SIGKILL) }
        #expect(try await HTTP.send(.POST, broker.baseURL + "/v1/tenants", key: key, json: tenantBody("t1")).status == 201)
        func mintAndVerify() async throws -> (Int, Int) {
            let minted = try await HTTP.send(.POST, broker.baseURL + "/v1/tenants/t1/token", key: key)
            guard minted.status == 200, let token = try JSONParser().parseObject(minted.body)["access_token"]?.stringValue else { return (minted.status, 0) }
            let verified = try await HTTP.get(broker.baseURL + "/v1/verify?tenant=t1", headers: [("Authorization", "Bearer \(token)")])
            return (minted.status, verified.status)
        }
        #expect(try await mintAndVerify() == (200, 200))

        proxy.cut()
        // The proxy closes its listener, then every open connection, when it handles the signal.
        #expect(try await eventually { !TCPTable().isListening(port: proxy.port) }, "the proxy never cut the database off")
        #expect(try await mintAndVerify() == (200, 200), "the hot path needs no database")
        let write = try await HTTP.send(.POST, broker.baseURL + "/v1/tenants", key: key, json: tenantBody("t2"))
        #expect(write.status == 503, "\(write.text)")
        #expect(try await HTTP.get(broker.baseURL + "/readyz").status == 503)
        #expect(try await mintAndVerify() == (200, 200))

        proxy.restore()
        let deadline = ContinuousClock.now + .seconds(30)
        var ready = 0
        while ContinuousClock.now < deadline {
            ready = try await HTTP.get(broker.baseURL + "/readyz").status
            if ready == 200 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(ready == 200, "ready again without a restart")
        #expect(try await HTTP.send(.POST, broker.baseURL + "/v1/tenants", key: key, json: tenantBody("t2")).status == 201)
        #expect(broker.process.isRunning)
    }

    /// Disk full is simulated with the broker's file-size limit (RLIMIT_FSIZE, set on the running process with
    /// `prlimit`): a write past it fails with EFBIG or comes up short, which SQLite reports as SQLITE_IOERR_WRITE or
    /// SQLITE_FULL, the same failure paths as ENOSPC, without needing root to mount a small file system.
    @Test("SQLite disk full: writes answer 503 and keep nothing, reads and the hot path keep serving, no restart needed, nothing corrupted")
    func sqliteDiskFull() async throws {
        let scratch = ScratchDirectory()
        let file = scratch.path + "/db.sqlite"
        let database = "sqlite:" + file
        let key = try await bootstrapAdminKey(database: database, directory: scratch.path)
        let broker = try await BrokerProcess.serve(keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--database", database])
        defer { broker.signal(SIGKILL) }
        #expect(try await HTTP.send(.POST, broker.baseURL + "/v1/tenants", key: key, json: tenantBody("t0")).status == 201)

        // Each create carries a 300 KiB logo, so the database and its WAL must grow past the limit within a few writes.
        var logo: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var generator = SystemRandomNumberGenerator()
        while logo.count < 300 * 1024 { logo.append(UInt8.random(in: 0...255, using: &generator)) }
        let logoBase64 = Data(logo).base64EncodedString()
        func sizeOf(_ path: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
        let limit = max(sizeOf(file), sizeOf(file + "-wal")) + 1 << 20
        try await runTool("/usr/bin/env", ["prlimit", "--pid", "\(broker.pid)", "--fsize=\(limit):"])

        var acknowledged: [String] = []
        var refused: [String] = []
        for index in 1...40 where refused.isEmpty {
            let id = "big\(index)"
            let reply = try await HTTP.send(.POST, broker.baseURL + "/v1/tenants", key: key, json: tenantBody(id) {
                $0["logo"] = .object(["contentType": .string("image/png"), "data": .string(logoBase64)])
            })
            switch reply.status {
            case 201: acknowledged.append(id)
            case 503:
                refused.append(id)
                #expect(reply.text.contains("\"store_unavailable\""), "\(reply.text)")
                #expect(!reply.text.contains("s3cret"))
            default: Issue.record("create \(id) answered \(reply.status): \(reply.text)")
            }
        }
        #expect(refused.count == 1, "no write failed under a \(limit)-byte file-size limit")
        // With next to no room left, small writes fail too; a write past the limit may also raise SIGXFSZ, which must not kill the broker.
        try await runTool("/usr/bin/env", ["prlimit", "--pid", "\(broker.pid)", "--fsize=8192:"])
        let small = try await HTTP.send(.POST, broker.baseURL + "/v1/tenants", key: key, json: tenantBody("small"))
        #expect(small.status == 503, "\(small.text)")
        refused.append("small")
        #expect(try await HTTP.send(.PATCH, broker.baseURL + "/v1/tenants/t0", key: key, json: .object([
            "logo": .object(["contentType": .string("image/png"), "data": .string(pngBase64)])])).status == 503)
        #expect(broker.process.isRunning, "a file-size limit must fail the write, not kill the broker")
        let unchanged = try JSONParser().parseObject(try await HTTP.send(.GET, broker.baseURL + "/v1/tenants/t0", key: key).body)
        #expect(unchanged["logo"] == nil || unchanged["logo"] == .null, "the refused PATCH left a logo")

        // Reads, minting and verification need no write.
        for id in refused { #expect(try await HTTP.send(.GET, broker.baseURL + "/v1/tenants/\(id)", key: key).status == 404) }
        #expect(try await HTTP.send(.GET, broker.baseURL + "/v1/tenants/t0", key: key).status == 200)
        let minted = try await HTTP.send(.POST, broker.baseURL + "/v1/tenants/t0/token", key: key)
        #expect(minted.status == 200, "\(minted.text)")
        let token = try JSONParser().parseObject(minted.body)["access_token"]?.stringValue ?? ""
        #expect(try await HTTP.get(broker.baseURL + "/v1/verify?tenant=t0", headers: [("Authorization", "Bearer \(token)")]).status == 200)

        // Space comes back: the next write succeeds without a restart.
        try await runTool("/usr/bin/env", ["prlimit", "--pid", "\(broker.pid)", "--fsize=unlimited:"])
        #expect(try await HTTP.send(.POST, broker.baseURL + "/v1/tenants", key: key, json: tenantBody("after")).status == 201)
        broker.signal(SIGTERM)
        #expect(try await broker.waitForExit() == 0)

        // The file is intact, and holds exactly the acknowledged writes.
        let check = try await runTool("/usr/bin/python3", ["-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            print(db.execute("PRAGMA integrity_check").fetchone()[0])
            print(",".join(sorted(r[0] for r in db.execute("SELECT tenant_id FROM tenants"))))
            """, file])
        let lines = check.split(separator: "\n").map(String.init)
        #expect(lines.first == "ok", "\(check)")
        #expect(lines.dropFirst().first == (["after", "t0"] + acknowledged).sorted().joined(separator: ","))
        let restarted = try await BrokerProcess.serve(keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--database", database])
        defer { restarted.signal(SIGKILL) }
        for id in acknowledged { #expect(try await HTTP.send(.GET, restarted.baseURL + "/v1/tenants/\(id)", key: key).status == 200) }
        for id in refused { #expect(try await HTTP.send(.GET, restarted.baseURL + "/v1/tenants/\(id)", key: key).status == 404) }
    }
}
