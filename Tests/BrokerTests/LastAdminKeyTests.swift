import Foundation
import HTTPTypes
import JOSE
import StoreTestSupport
import TenantRegistry
import Testing

@Suite("the last active admin API key cannot be revoked through the API") struct LastAdminKeyTests {
    @Test("DELETE of the last active admin key is 409 last_admin_key and the key keeps working; with a second admin key it is 204", arguments: Backend.allCases)
    func lastAdminKey(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            let firstId = clientCredentials(harness.adminKey).0.dropFirst(4)
            let reader = try await client.apiKey(["tenants:read"])
            // Another key may go while the admin key stays.
            #expect(try await client.send(.delete, "/v1/api-keys/\(clientCredentials(reader).0.dropFirst(4))").status == .noContent)

            let refused = try await client.send(.delete, "/v1/api-keys/\(firstId)")
            #expect(refused.status == .conflict, "\(refused.text)")
            #expect(refused.code == "last_admin_key")
            #expect(refused.headers[.contentType] == "application/problem+json")
            #expect(try await client.send(.get, "/v1/api-keys").status == .ok, "the refused key still works")
            let audit = try await client.send(.get, "/v1/audit?limit=200").json["items"]?.arrayValue ?? []
            #expect(audit.filter { $0.objectValue?["action"] == .string("api-key.revoke") }.count == 1, "a refused revocation writes no event")

            let second = try await client.apiKey(["admin"], name: "second admin")
            let secondId = clientCredentials(second).0.dropFirst(4)
            #expect(try await client.send(.delete, "/v1/api-keys/\(firstId)").status == .noContent)
            #expect(try await client.send(.get, "/v1/api-keys").status == .unauthorized, "the revoked key stops")
            let selfRevoke = try await client.send(.delete, "/v1/api-keys/\(secondId)", key: second)
            #expect(selfRevoke.status == .conflict)
            #expect(selfRevoke.code == "last_admin_key")
            #expect(try await client.send(.get, "/v1/api-keys", key: second).status == .ok)

            // The CLI's path (the store without the guard) still revokes it: recovery stays possible.
            try await harness.broker.tenants.store.revokeAPIKey(
                id: String(secondId), audit: AuditEvent(at: Date(), actor: "cli", action: "api-key.revoke", tenantId: nil, requestId: nil))
            let keys = try await harness.broker.tenants.store.apiKeys()
            #expect(keys.allSatisfy { $0.revokedAt != nil || !$0.scopes.contains("admin") })
        }
    }

    @Test("the CLI revokes the last admin key of a store (recovery)")
    func cliRevokesLast() async throws {
        let scratch = ScratchDirectory()
        let database = "sqlite:\(scratch.path)/store.sqlite"
        let key = try await bootstrapAdminKey(database: database, directory: scratch.path)
        let id = String(clientCredentials(key).0.dropFirst(4))
        let result = try await BrokerProcess.run(["api-keys", "revoke", id, "--database", database], directory: scratch.path)
        #expect(result.status == 0, "\(result.stderr)")
        let list = try await BrokerProcess.run(["api-keys", "list", "--database", database], directory: scratch.path)
        #expect(list.stdout.contains(id))
        #expect(list.stdout.contains("\"revokedAt\":\""), "\(list.stdout)")
    }
}
