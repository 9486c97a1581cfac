import Broker
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JOSE
import KeyRing
import Logging
import StoreTestSupport
import Synchronization
import TenantRegistry
import Testing

/// A settable clock, so lifecycle and dashboard tests control "now".
final class TestClock: Sendable {
    private let value: Mutex<Date>
    init(_ start: Date) { value = Mutex(start) }
    var now: Date { value.withLock { $0 } }
    func set(_ date: Date) { value.withLock { $0 = date } }
    func advance(days: Double) { value.withLock { $0 = $0.addingTimeInterval(days * 86_400) } }
}

/// A broker on a fresh store of one backend, with an admin API key, driven in-process over its router.
struct RegistryHarness: Sendable {
    let scratch: ScratchDirectory
    let broker: BrokerApplication
    let clock: TestClock
    let adminKey: String
    let databaseURL: String

    /// A broker on a fresh database, or, with `sharing`, a second instance on another harness's database.
    static func make(
        _ backend: Backend, clock: TestClock = TestClock(Date()), flags: [String: String] = [:], sharing other: RegistryHarness? = nil
    ) async throws -> RegistryHarness {
        // Dozens of tests start at once; each PostgreSQL one creates a database, opens a pool and migrates.
        // All of that together on 2 cores (next to CPU-heavy suites) kept some of them past the store's 5 s
        // deadline in CI, so those set-ups take turns; the tests themselves still run side by side.
        // Even so, a CI run once saw one set-up step outlive the deadline: a set-up that times out is not what a
        // test is about, so it is tried again (on a fresh database) up to twice before the test fails.
        // SQLite set-ups do not take turns (each has its own file), but a run's first seconds, when some sixty
        // suites start at once beside Chromium, saw them outlive the deadline too (a CI-like run): tried again too.
        let gated = backend == .postgres
        var attempt = 1
        while true {
            if gated { await SetupGate.postgres.enter() }
            do {
                let harness = try await makeNow(backend, clock: clock, flags: flags, sharing: other)
                if gated { await SetupGate.postgres.leave() }
                return harness
            } catch let error as StoreError {
                if gated { await SetupGate.postgres.leave() }
                guard case .unavailable = error, attempt < 3 else { throw error }
                attempt += 1
            } catch {
                if gated { await SetupGate.postgres.leave() }
                throw error
            }
        }
    }

    private static func makeNow(
        _ backend: Backend, clock: TestClock, flags: [String: String], sharing other: RegistryHarness?
    ) async throws -> RegistryHarness {
        let scratch = ScratchDirectory()
        let databaseURL = try other?.databaseURL ?? backend.freshDatabase(in: scratch)
        var all = flags
        all["keysDir"] = scratch.path + "/keys"
        all["database"] = databaseURL
        let configuration = try BrokerConfiguration.load(flags: all, environment: [:])
        let logger = Logger(label: "test")
        let ring = try KeyRing(directory: KeyRingDirectory(path: scratch.path + "/keys"), bootstrap: true, logger: logger)
        // A second instance on the same database needs the first one's secrets key, as in production.
        let sealer = try other?.broker.tenants.store.sealer ?? SecretsKey.sealer(configuration, logger: logger)
        let store = try await SQLTenantStore.open(configuration.database, sealer: sealer, logger: logger)
        let tenants = TenantService(store: store, baseDomain: "expertflow.com", logger: logger, clock: { clock.now })
        let broker = BrokerApplication(configuration: configuration, keyRing: ring, tenants: tenants, logger: logger)
        let (record, key) = APIKeyRecord.generate(name: "test admin", scopes: ["admin"], tenants: ["*"], now: clock.now)
        do {
            try await broker.prepare()
            try await tenants.createAPIKey(record, actor: .init(name: "test", requestId: nil))
        } catch {
            await store.close()
            throw error
        }
        return RegistryHarness(scratch: scratch, broker: broker, clock: clock, adminKey: key, databaseURL: databaseURL)
    }

    /// Runs `body` with a router-level test client (or, with `live`, a real HTTP server on loopback), then closes the store.
    func run(live: Bool = false, _ body: @Sendable @escaping (Client) async throws -> Void) async throws {
        let adminKey = self.adminKey
        do {
            try await Application(router: broker.buildRouter()).test(live ? .ahc(.http) : .router) { client in
                try await body(Client(client: client, adminKey: adminKey))
            }
        } catch {
            await broker.tenants.store.close()
            throw error
        }
        await broker.tenants.store.close()
    }

    /// A thin wrapper that sends JSON with a given key (the admin key by default).
    struct Client: Sendable {
        let client: any TestClientProtocol
        let adminKey: String

        struct Reply: Sendable {
            let status: HTTPResponse.Status
            let headers: HTTPFields
            let body: [UInt8]
            var text: String { String(decoding: body, as: UTF8.self) }
            var json: [String: JSONValue] {
                get throws { try JSONParser().parseObject(body) }
            }
            /// The `errors[].field` values of a problem body, sorted.
            var errorFields: [String] {
                get throws { try json["errors"]?.arrayValue?.compactMap { $0.objectValue?["field"]?.stringValue }.sorted() ?? [] }
            }
            var code: String? { (try? json)?["code"]?.stringValue }
        }

        func send(
            _ method: HTTPRequest.Method, _ uri: String, json: JSONValue? = nil, raw: [UInt8]? = nil, key: String?? = .none,
            headers: HTTPFields = [:]
        ) async throws -> Reply {
            var fields = headers
            let credential: String? = key ?? adminKey
            if let credential { fields[.authorization] = "Bearer \(credential)" }
            var body: ByteBuffer?
            if let json { body = ByteBuffer(bytes: json.serialized()) }
            if let raw { body = ByteBuffer(bytes: raw) }
            if body != nil, fields[.contentType] == nil { fields[.contentType] = "application/json" }
            let response = try await client.execute(uri: uri, method: method, headers: fields, body: body)
            return Reply(status: response.status, headers: response.headers, body: Array(buffer: response.body))
        }
    }
}

/// A valid create body, optionally changed by `edit`.
func tenantBody(_ id: String, twoFA: Bool = true, _ edit: (inout [String: JSONValue]) -> Void = { _ in }) -> JSONValue {
    var body: [String: JSONValue] = [
        "tenantId": .string(id),
        "keycloak": .object([
            "realm": .string(id), "clientId": .string("cx-portal"), "clientSecret": .string("s3cret-\(id)"),
            "Otp_Manager_Url": .string("http://ef-cx-otp-manager-svc:3000/"),
        ]),
        "campaigns": .object([:]), "dialer": .object([:]),
        "mediaServer": .object(["host": .string("media1.expertflow.com"), "port": .int(5060)]),
        "twoFAConfig": twoFA
            ? .object([
                "isEnabled": .bool(true), "channelType": .string("SMS"), "serviceIdentifier": .string("sms-gateway-1"),
                "otpExpiry": .int(120), "retryLimit": .int(3),
            ]) : .object(["isEnabled": .bool(false)]),
        "subscription": .object(["expiresAt": .string("2099-06-30T00:00:00Z")]),
    ]
    edit(&body)
    return .object(body)
}

/// A tiny valid PNG (1x1), base64.
let pngBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
