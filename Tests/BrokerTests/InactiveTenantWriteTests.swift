import Foundation
import HTTPTypes
import JOSE
import Testing

@Suite("a suspended tenant's own admins cannot change it") struct InactiveTenantWriteTests {
    @Test("PATCH by the tenant's own writer: 200 while active, 403 tenant_inactive while suspended or expired, 200 again after resume; system admins always")
    func patchWhileSuspended() async throws {
        let clock = TestClock(Date())
        let harness = try await RegistryHarness.make(.sqlite, clock: clock)
        try await harness.run { client in
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1") { $0["subscription"] = .object(["expiresAt": .string(RFC3339Test.format(clock.now.addingTimeInterval(86_400 * 10)))]) }).status == .created)
            let writer = try await client.apiKey(["tenants:read", "tenants:write"], tenants: ["tenant1"])
            let change = JSONValue.object(["mediaServer": .object(["host": .string("m2.expertflow.com"), "port": .int(5060)])])
            #expect(try await client.send(.patch, "/v1/tenants/tenant1", json: change, key: writer).status == .ok)
            #expect(try await client.send(.post, "/v1/tenants/tenant1/suspend").status == .ok)
            let refused = try await client.send(.patch, "/v1/tenants/tenant1", json: change, key: writer)
            #expect(refused.status == .forbidden && refused.code == "tenant_inactive", "\(refused.text)")
            #expect(try await client.send(.get, "/v1/tenants/tenant1", key: writer).status == .ok, "reading stays allowed")
            #expect(try await client.send(.patch, "/v1/tenants/tenant1", json: change).status == .ok, "a system admin may")
            #expect(try await client.send(.post, "/v1/tenants/tenant1/resume").status == .ok)
            #expect(try await client.send(.patch, "/v1/tenants/tenant1", json: change, key: writer).status == .ok)
            clock.advance(days: 11)
            let expired = try await client.send(.patch, "/v1/tenants/tenant1", json: change, key: writer)
            #expect(expired.status == .forbidden && expired.code == "tenant_inactive", "an expired tenant too: \(expired.text)")
        }
    }
}

enum RFC3339Test {
    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
