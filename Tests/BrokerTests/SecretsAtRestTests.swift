import Broker
import Foundation
import HTTPTypes
import JOSE
import KeyRing
import Logging
import StoreTestSupport
@testable import TenantRegistry
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("secrets at rest: tenant client secrets sealed with AES-256-GCM under a key outside the database")
struct SecretsAtRestTests {
    @Test("the store holds only sealed client secrets, naming their key; they open to what was sent; GET never shows them", arguments: Backend.allCases)
    func sealedInTheStore(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        let store = harness.broker.tenants.store
        try await harness.run { client in
            let secret = "client-secret-\(UUID().uuidString)"
            let body = tenantBody("tenant1") { body in
                var keycloak = body["keycloak"]!.objectValue!
                keycloak["clientSecret"] = .string(secret)
                body["keycloak"] = .object(keycloak)
            }
            #expect(try await client.send(.post, "/v1/tenants", json: body).status == .created)
            let stored = try #require(try await store.storedClientSecret("tenant1"))
            #expect(stored.hasPrefix("sealed:v1:\(try #require(store.sealer.currentKeyId)):"), "\(stored.prefix(30))")
            #expect(!stored.contains(secret))
            #expect(try await store.tenant("tenant1")?.keycloak.clientSecret == secret)

            // A PATCH (the secret cannot be changed by one) keeps the sealed bytes as they are: no new nonce, no rewrite.
            let patched = try await client.send(.patch, "/v1/tenants/tenant1", json: .object(["mediaServer": .object(["host": .string("m2.expertflow.com"), "port": .int(5060)])]))
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(try await store.storedClientSecret("tenant1") == stored)
            #expect(try await store.tenant("tenant1")?.keycloak.clientSecret == secret)
            #expect(!(try await client.send(.get, "/v1/tenants/tenant1").text.contains(secret)))
            let resealed = stored

            // The record id is the associated data: a sealed value moved to another tenant's row does not open there.
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("tenant2")).status == .created)
            try await store.overwriteStoredClientSecret("tenant2", resealed)
            await #expect(throws: StoreError.self) { try await store.tenant("tenant2") }
        }
    }

    @Test("plaintext secrets from before sealing are sealed at start-up; rotation reseals under the first key; an unknown key stops start-up", arguments: Backend.allCases)
    func migrationAndRotation(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        let location = try DatabaseLocation.parse(harness.databaseURL)
        let logger = Logger(label: "test")
        try await harness.run { client in
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1")).status == .created)
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("tenant2")).status == .created)
            try await harness.broker.tenants.store.overwriteStoredClientSecret("tenant2", "legacy-plaintext")
        }
        let oldKey = Crypto.randomBytes(32)
        // The harness's own key sealed tenant1; a store given [new, old] keys opens both and reseals with new.
        let first = try await SQLTenantStore.open(location, sealer: harness.broker.tenants.store.sealer, logger: logger)
        let counts = try await first.sealSecrets()
        #expect(counts.sealed == 1 && counts.resealed == 0, "\(counts)")
        #expect(try await first.storedClientSecret("tenant2")?.hasPrefix("sealed:v1:") == true)
        #expect(try await first.tenant("tenant2")?.keycloak.clientSecret == "legacy-plaintext")
        let again = try await first.sealSecrets()
        #expect(again.sealed == 0 && again.resealed == 0, "a second run has nothing to do")
        await first.close()

        let harnessKeyFile = harness.scratch.path + "/keys/" + SecretsKey.fileName
        let harnessKey = try #require(BrokerConfigurationKey.read(harnessKeyFile))
        let rotating = try await SQLTenantStore.open(location, sealer: try SecretSealer(keys: [oldKey, harnessKey]), logger: logger)
        let rotated = try await rotating.sealSecrets()
        #expect(rotated.resealed == 2 && rotated.sealed == 0, "\(rotated)")
        let newKeyId = try #require(rotating.sealer.currentKeyId)
        #expect(try await rotating.storedClientSecret("tenant1")?.hasPrefix("sealed:v1:\(newKeyId):") == true)
        await rotating.close()

        let rotatedOnly = try await SQLTenantStore.open(location, sealer: try SecretSealer(keys: [oldKey]), logger: logger)
        #expect(try await rotatedOnly.tenant("tenant1")?.keycloak.clientSecret == "s3cret-tenant1")
        await rotatedOnly.close()

        let stranger = try await SQLTenantStore.open(location, sealer: try SecretSealer(keys: [Crypto.randomBytes(32)]), logger: logger)
        await #expect(throws: StoreError.self, "a key that opens nothing must stop start-up, not overwrite") { try await stranger.sealSecrets() }
        await stranger.close()
    }

    @Test("an instance with another secrets key than the store's stops at start-up with a message that says what to do", arguments: Backend.allCases)
    func mismatchedKey(backend: Backend) async throws {
        let scratch = ScratchDirectory()
        let database = try backend.freshDatabase(in: scratch)
        let first = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys-a", directory: scratch.path, extraArguments: ["--database", database])
        first.signal(SIGTERM)
        _ = try await first.waitForExit()
        // Another key ring directory: another secrets.key.
        let second = try BrokerProcess.launch(
            ["serve", "--port", "0", "--keys-dir", scratch.path + "/keys-b", "--database", database], directory: scratch.path)
        let status = try await second.waitForExit()
        #expect(status != 0)
        #expect(second.log.contains("same --secrets-key"), "\(second.log.suffix(800))")
        // With the first one's key file it starts.
        try FileManager.default.removeItem(atPath: scratch.path + "/keys-b/" + SecretsKey.fileName)
        try FileManager.default.copyItem(atPath: scratch.path + "/keys-a/" + SecretsKey.fileName, toPath: scratch.path + "/keys-b/" + SecretsKey.fileName)
        let third = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys-b", directory: scratch.path, extraArguments: ["--database", database])
        third.signal(SIGKILL)
    }

    @Test("the SQLite file and its WAL never hold a client secret in plaintext, through creates, an update and the close's checkpoint")
    func sqliteFileHoldsNoPlaintext() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        let path = String(harness.databaseURL.dropFirst("sqlite:".count))
        let created = (0..<5).map { "plaintext-canary-\($0)-\(UUID().uuidString)" }
        let secrets = created
        let bodies = created.enumerated().map { index, secret in
            tenantBody("tenant\(index)") { body in
                var keycloak = body["keycloak"]!.objectValue!
                keycloak["clientSecret"] = .string(secret)
                body["keycloak"] = .object(keycloak)
            }
        }
        try await harness.run { client in
            for body in bodies {
                let reply = try await client.send(.post, "/v1/tenants", json: body)
                #expect(reply.status == .created)
            }
            let patched = try await client.send(.patch, "/v1/tenants/tenant0", json: .object(["mediaServer": .object(["host": .string("m2.expertflow.com"), "port": .int(5060)])]))
            #expect(patched.status == .ok)
            var beforeCheckpoint: [UInt8] = []
            for suffix in ["", "-wal", "-shm", "-journal"] {
                if let data = FileManager.default.contents(atPath: path + suffix) { beforeCheckpoint += [UInt8](data) }
            }
            #expect(!beforeCheckpoint.isEmpty)
            for secret in secrets { #expect(beforeCheckpoint.firstRange(of: Array(secret.utf8)) == nil, "\(secret) in the database files") }
            #expect(beforeCheckpoint.firstRange(of: Array("sealed:v1:".utf8)) != nil, "the sealed form is what is stored")
        }
        // Closed: SQLite checkpoints the WAL into the main file.
        let afterClose = FileManager.default.contents(atPath: path).map(Array.init) ?? []
        for secret in secrets { #expect(afterClose.firstRange(of: Array(secret.utf8)) == nil) }
    }

    @Test("the secrets key file is made 0600 in the keys directory; a symlinked, group-readable or malformed one is refused; --secrets-key wins")
    func keyFile() async throws {
        let scratch = ScratchDirectory()
        let logger = Logger(label: "test")
        let configuration = try BrokerConfiguration.load(flags: ["keysDir": scratch.path + "/keys"], environment: [:])
        let sealer = try SecretsKey.sealer(configuration, logger: logger)
        let file = scratch.path + "/keys/" + SecretsKey.fileName
        var info = stat()
        #expect(stat(file, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(try SecretsKey.sealer(configuration, logger: logger).currentKeyId == sealer.currentKeyId, "the file is read, not replaced")

        chmod(file, 0o640)
        #expect(throws: KeyRingError.self) { try SecretsKey.sealer(configuration, logger: logger) }
        chmod(file, 0o600)

        let elsewhere = scratch.path + "/elsewhere.key"
        try FileManager.default.moveItem(atPath: file, toPath: elsewhere)
        try FileManager.default.createSymbolicLink(atPath: file, withDestinationPath: elsewhere)
        #expect(throws: KeyRingError.self, "a symlink is never followed") { try SecretsKey.sealer(configuration, logger: logger) }
        try FileManager.default.removeItem(atPath: file)
        _ = FileManager.default.createFile(atPath: file, contents: Data("not base64 of 32 bytes\n".utf8), attributes: [.posixPermissions: 0o600])
        #expect(throws: ConfigurationError.self) { try SecretsKey.sealer(configuration, logger: logger) }

        let explicit = Crypto.randomBytes(32)
        let flagged = try BrokerConfiguration.load(
            flags: ["keysDir": scratch.path + "/keys", "secretsKey": Data(explicit).base64EncodedString()], environment: [:])
        #expect(try SecretsKey.sealer(flagged, logger: logger).currentKeyId == (try SecretSealer(keys: [explicit]).currentKeyId))
        for bad in ["short", Data(Crypto.randomBytes(31)).base64EncodedString(), Data(explicit).base64EncodedString() + ",x"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try BrokerConfiguration.load(flags: ["secretsKey": bad], environment: [:]) }
        }
    }
}

/// Reads a secrets key file as the broker does (for tests that need the key itself).
enum BrokerConfigurationKey {
    static func read(_ path: String) -> [UInt8]? {
        guard let bytes = try? SecretFile.read(path) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Data(base64Encoded: text).map(Array.init)
    }
}
