import Broker
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JOSE
import StoreTestSupport
import Testing

@Suite("--require-tenant-hint: forward-auth refuses requests that name no tenant") struct TenantHintTests {
    @Test("off (the default): a token verifies without a hint; on: 403 without a hint, 200 with the right one, 403 with another's, on the router and the fast path alike")
    func requireHint() async throws {
        let off = try await RegistryHarness.make(.sqlite)
        try await off.run { client in
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1")).status == .created)
            let token = try #require(try await client.send(.post, "/v1/tenants/tenant1/token").json["access_token"]?.stringValue)
            #expect(try await client.send(.get, "/v1/verify", key: token).status == .ok)
        }
        let on = try await RegistryHarness.make(.sqlite, flags: ["requireTenantHint": "true"])
        try await on.run { client in
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1")).status == .created)
            let token = try #require(try await client.send(.post, "/v1/tenants/tenant1/token").json["access_token"]?.stringValue)
            let host = HTTPField.Name("X-Forwarded-Host")!
            let bare = try await client.send(.get, "/v1/verify", key: token)
            #expect(bare.status == .forbidden)
            #expect(bare.headers[.wwwAuthenticate]?.contains("names no tenant") == true)
            #expect(try await client.send(.get, "/v1/verify", key: token, headers: [host: "tenant1.expertflow.com"]).status == .ok)
            #expect(try await client.send(.get, "/v1/verify?tenant=tenant1", key: token).status == .ok)
            #expect(try await client.send(.get, "/v1/verify", key: token, headers: [host: "tenant2.expertflow.com"]).status == .forbidden)
            #expect(try await client.send(.get, "/v1/verify", key: "garbage").status == .unauthorized, "a bad token is still 401")

            // The fast path answers cached successes; a request without a hint must not be one of them.
            try await on.broker.buildHTTPServer().test(.live) { server in
                let port = try #require(server.port)
                let (withHint, without) = try await offPool { () -> (String, String) in
                    let connection = try RawConnection(port: port)
                    connection.send("GET /v1/verify HTTP/1.1\r\nHost: b\r\nX-Forwarded-Host: tenant1.expertflow.com\r\nAuthorization: Bearer \(token)\r\n\r\n")
                    let first = connection.readResponse()
                    connection.send("GET /v1/verify HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n")
                    return (first, connection.readUntilClosed().text)
                }
                #expect(withHint.hasPrefix("HTTP/1.1 200"), "\(withHint)")
                #expect(without.hasPrefix("HTTP/1.1 403"), "\(without)")
                // Without `Connection: close` too (the fast path's own case).
                let fastCandidate = try await offPool {
                    let connection = try RawConnection(port: port)
                    connection.send("GET /v1/verify HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer \(token)\r\n\r\n")
                    return connection.readResponse()
                }
                #expect(fastCandidate.hasPrefix("HTTP/1.1 403"), "\(fastCandidate)")
            }
        }
    }

    @Test("the setting accepts true/false only")
    func parsing() throws {
        #expect(try BrokerConfiguration.load(flags: ["requireTenantHint": "true"], environment: [:]).requireTenantHint)
        #expect(!(try BrokerConfiguration.load(flags: [:], environment: [:]).requireTenantHint))
        #expect(throws: ConfigurationError.self) { try BrokerConfiguration.load(flags: ["requireTenantHint": "maybe"], environment: [:]) }
    }
}
