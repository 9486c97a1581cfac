import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JOSE
import StoreTestSupport
import Testing

@Suite("malformed HTTP framing is a 400 in the route's error shape, never a 500 or a 413")
struct FramingTests {
    /// Every route that reads a body, with a path that reaches the body read for an admin caller.
    static let routes: [(method: String, path: String)] = [
        ("POST", "/v1/login"), ("POST", "/v1/login/refresh"), ("POST", "/v1/logout"),
        ("POST", "/v1/tenants"), ("PATCH", "/v1/tenants/tenant1"), ("POST", "/v1/tenants/tenant1/token"),
        ("POST", "/v1/tenants/tenant1/login"), ("POST", "/v1/tenants/tenant1/login/otp"), ("POST", "/v1/tenants/tenant1/login/otp/resend"),
        ("POST", "/v1/tenants/tenant1/otp"), ("POST", "/v1/tenants/tenant1/otp/abc/verify"), ("POST", "/v1/api-keys"),
        ("POST", "/oauth2/token"), ("POST", "/oauth2/introspect"), ("POST", "/oauth2/revoke"),
    ]

    /// Chunked bodies that do not parse; `close`: the client half-closes after sending (a truncated chunk).
    static let variants: [(name: String, body: String, close: Bool)] = [
        ("a chunk size that is not hex", "zz\r\n{}\r\n0\r\n\r\n", false),
        ("a chunk longer than its size", "2\r\n{\"a\":1}\r\n0\r\n\r\n", false),
        ("a chunk size that overflows", "fffffffffffffffffffffff\r\n{}\r\n0\r\n\r\n", false),
        ("a negative chunk size", "-2\r\n{}\r\n0\r\n\r\n", false),
        ("a chunk size line without CRLF", "2 garbage garbage\n{}\r\n0\r\n\r\n", false),
        ("a chunk cut off by the end of the connection", "10\r\n{\"a\":", true),
        ("a body cut off before its last chunk", "2\r\n{}\r\n", true),
    ]

    @Test("every malformed chunked body on every body-taking route answers 400 with a problem (/v1) or an OAuth error (/oauth2)")
    func malformedChunks() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1")).status == .created)
            let minter = try await client.apiKey(["token:mint", "token:introspect", "otp"], tenants: ["tenant1"])
            // The fast paths are on: a mint held by the mint fast path must get the router's answer too.
            try await harness.broker.buildHTTPServer().test(.live) { server in
                let port = try #require(server.port)
                for route in Self.routes {
                    let oauth = route.path.hasPrefix("/oauth2/")
                    let credential = route.path.hasSuffix("/token") || oauth ? minter : harness.adminKey
                    for variant in Self.variants {
                        let connection = try RawConnection(port: port)
                        connection.send(
                            "\(route.method) \(route.path) HTTP/1.1\r\nHost: broker.test\r\nAuthorization: Bearer \(credential)\r\n"
                                + "Content-Type: \(oauth ? "application/x-www-form-urlencoded" : "application/json")\r\n"
                                + "Transfer-Encoding: chunked\r\n\r\n" + variant.body)
                        if variant.close { connection.shutdownWrite() }
                        let (text, closed) = try await offPool { connection.readUntilClosed() }
                        let label = "\(route.method) \(route.path), \(variant.name)"
                        #expect(text.hasPrefix("HTTP/1.1 400 "), "\(label): \(text.prefix(200))")
                        #expect(closed, "\(label): the connection must close after a framing error")
                        #expect(text.components(separatedBy: "HTTP/1.1 ").count == 2, "\(label): one answer only: \(text)")
                        if oauth {
                            #expect(text.contains("Content-Type: application/json"), "\(label)")
                            #expect(text.contains(#""error":"invalid_request""#), "\(label): \(text)")
                        } else {
                            #expect(text.contains("Content-Type: application/problem+json"), "\(label)")
                            #expect(text.contains(#""code":"malformed_request""#), "\(label): \(text)")
                        }
                    }
                }
            }
            let metrics = try await client.send(.get, "/metrics", key: .some(nil)).text
            #expect(!metrics.contains(#"code="500""#), "no request answered 500")
        }
    }
}
