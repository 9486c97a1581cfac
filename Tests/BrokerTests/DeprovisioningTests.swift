import Foundation
import HTTPTypes
import JOSE
import StoreTestSupport
import TenantRegistry
import Testing

@Suite("deprovisioning: the tenant export")
struct DeprovisioningTests {
    @Test("export: the document without secrets, subtenants, only the tenant's own keys (metadata only), the whole audit trail across pages; any status", arguments: Backend.allCases)
    func export(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            let body = tenantBody("t1") { $0["logo"] = .object(["contentType": .string("image/png"), "data": .string(pngBase64)]) }
            #expect(try await client.send(.post, "/v1/tenants", json: body).status == .created)
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("t2")).status == .created)
            #expect(try await client.send(.post, "/v1/tenants/t1/subtenants", json: .object(["subtenantId": .string("sales")])).status == .created)
            let own = try await client.apiKey(["token:mint"], tenants: ["t1"], name: "own")
            let sub = try await client.apiKey(["token:mint"], tenants: ["t1/sales"], name: "sub")
            let shared = try await client.apiKey(["token:mint"], tenants: ["t1", "t2"], name: "shared")
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
