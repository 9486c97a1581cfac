import ArgumentParser
import Broker
import Foundation
import JOSE
import Logging
import TenantRegistry

/// Opens the configured store with its pool running, migrates it, and runs `body`; store errors exit 1.
func withMigratedStore<T: Sendable>(_ options: StoreOptions, _ body: @Sendable @escaping (SQLTenantStore) async throws -> T) async throws -> T {
    let configuration = try options.configuration()
    var logger = Logger(label: "token-broker")
    logger.logLevel = .warning
    do {
        // API keys and migrations only: no tenant secret is read or written here, so no secrets key is needed.
        let store = try await SQLTenantStore.open(configuration.database, sealer: try! SecretSealer(keys: []), logger: logger)
        do {
            try await store.migrate()
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    } catch let error as StoreError {
        FileHandle.standardError.write(Data("token-broker: \(error.description)\n".utf8))
        throw ExitCode.failure
    }
}

/// `token-broker migrate`: applies pending schema migrations (serve does this at start-up too).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply pending schema migrations to the registry store and exit.")
    @OptionGroup var options: StoreOptions

    func run() async throws {
        let location = try options.configuration().database
        try await withMigratedStore(options) { _ in () }
        print("store \(location) is up to date")
    }
}

/// `token-broker api-keys ...`: bootstrap and manage API keys offline, straight in the store.
struct APIKeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-keys", abstract: "Create, list and revoke API keys directly in the store (works before Keycloak is wired in).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key and print it once (only its hash is stored).")
        @OptionGroup var options: StoreOptions
        @Option(help: "A name saying who uses the key.") var name: String
        @Option(help: "Comma-separated scopes: admin, token:mint, token:introspect, otp, tenants:read, tenants:write.") var scopes: String
        @Option(help: "Comma-separated tenant ids the key may act for, or '*' for all.") var tenants: String = "*"

        func run() async throws {
            let body: [String: JSONValue] = [
                "name": .string(name),
                "scopes": .array(scopes.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }),
                "tenants": .array(tenants.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }),
            ]
            let parsed: (name: String, scopes: [String], tenants: [String])
            do {
                parsed = try APIKeyRequest.parse(body)
            } catch {
                throw ValidationError(error.errors.map(\.description).joined(separator: "; "))
            }
            let (record, key) = APIKeyRecord.generate(name: parsed.name, scopes: parsed.scopes, tenants: parsed.tenants, now: Date())
            try await withMigratedStore(options) { store in
                try await store.createAPIKey(
                    record, audit: AuditEvent(at: record.createdAt, actor: "cli", action: "api-key.create", tenantId: nil, requestId: nil))
            }
            FileHandle.standardError.write(Data("created API key \(record.id) (\(record.name)); the key is shown once:\n".utf8))
            print(key)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets) as JSON lines.")
        @OptionGroup var options: StoreOptions

        func run() async throws {
            let keys = try await withMigratedStore(options) { store in try await store.apiKeys() }
            for key in keys { print(APIKeyRequest.json(key).serializedString()) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by id.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The key id (the part after tbk_ and before the next _).") var id: String

        func run() async throws {
            try await withMigratedStore(options) { store in
                try await store.revokeAPIKey(
                    id: id, audit: AuditEvent(at: Date(), actor: "cli", action: "api-key.revoke", tenantId: nil, requestId: nil))
            }
            print("revoked \(id)")
        }
    }
}
