import ArgumentParser
import Broker
import Foundation
import JOSE
import TenantRegistry

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
