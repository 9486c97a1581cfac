import Broker
import Foundation
import Hummingbird
import HummingbirdTesting
import JOSE
import StoreTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Sends `requests` on one connection, all in one write (pipelined); the last one should close the connection.
/// Returns everything the server sent, in order. The socket calls block, so they run on a thread of their own:
/// on one of Swift concurrency's threads they would hold up the in-process server that has to answer them.
private func exchange(port: Int, _ requests: [String]) async throws -> String {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
        Thread {
            do {
                let connection = try RawConnection(port: port)
                connection.send(requests.joined())
                continuation.resume(returning: connection.readAll())
            } catch {
                continuation.resume(throwing: error)
            }
        }.start()
    }
}

/// A raw GET request; `close` adds `Connection: close`.
private func get(_ path: String, token: String? = nil, _ headers: [(String, String)] = [], close: Bool = false) -> String {
    var text = "GET \(path) HTTP/1.1\r\nHost: broker.test\r\n"
    if let token { text += "Authorization: Bearer \(token)\r\n" }
    for (name, value) in headers { text += "\(name): \(value)\r\n" }
    if close { text += "Connection: close\r\n" }
    return text + "\r\n"
}

/// The responses in `text` (status line and header lines), with the per-response values masked: `Date` always,
/// `X-Request-Id` unless it is one of `keep`.
private func responses(_ text: String, keep: Set<String> = []) -> [[String]] {
    text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { response in
        response.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n").map { line in
            if line.hasPrefix("Date: ") { return "Date: -" }
            if line.hasPrefix("X-Request-Id: "), !keep.contains(String(line.dropFirst(14))) { return "X-Request-Id: -" }
            return line
        }
    }
}

/// Creates tenant1 and mints two tokens for it: `cached`, verified once through the router (so cached as valid),
/// and `unseen`, never verified.
private func cachedAndUnseen(_ client: RegistryHarness.Client) async throws -> (cached: String, unseen: String) {
    _ = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1"))
    let cached = try #require(try await client.send(.post, "/v1/tenants/tenant1/token").json["access_token"]?.stringValue)
    let unseen = try #require(try await client.send(.post, "/v1/tenants/tenant1/token").json["access_token"]?.stringValue)
    #expect(try await client.send(.get, "/v1/verify", key: cached).status == .ok)
    return (cached, unseen)
}

@Suite("forward-auth fast path: cached successes answered on the event loop, exactly as the router answers")
struct ForwardAuthFastPathTests {
    static let flags = ["port": "0", "host": "127.0.0.1", "issuer": "https://broker.test"]

    @Test("the same requests get the same answers (status, headers, header order) with and without the fast path")
    func sameAnswers() async throws {
        let harness = try await RegistryHarness.make(.sqlite, flags: Self.flags)
        try await harness.run { client in
            for id in ["tenant1", "tenant2", "sus"] { _ = try await client.send(.post, "/v1/tenants", json: tenantBody(id)) }
            func mint(_ tenant: String, _ body: JSONValue = .object([:])) async throws -> String {
                try #require(try await client.send(.post, "/v1/tenants/\(tenant)/token", json: body).json["access_token"]?.stringValue)
            }
            let token = try await mint("tenant1", .object(["roles": .array([.string("agent"), .string("supervisor")]), "scope": .string("otp")]))
            for sub in ["sub1", "gone"] { _ = try await client.send(.post, "/v1/tenants/tenant1/subtenants", json: .object(["subtenantId": .string(sub)])) }
            let subToken = try await mint("tenant1", .object(["subtenant": .string("sub1")]))
            let goneToken = try await mint("tenant1", .object(["subtenant": .string("gone")]))
            for cached in [subToken, goneToken] { #expect(try await client.send(.get, "/v1/verify", key: cached).status == .ok) }
            _ = try await client.send(.delete, "/v1/tenants/tenant1/subtenants/gone")
            let sus = try await mint("sus")
            let revoked = try await mint("tenant1")
            // Cached as valid through the router.
            for cached in [token, sus, revoked] { #expect(try await client.send(.get, "/v1/verify", key: cached).status == .ok) }
            _ = try await client.send(.post, "/v1/tenants/sus/suspend")
            let owner = try await client.apiKey(["token:introspect"])
            let (id, secret) = clientCredentials(owner)
            #expect(try await client.form("/oauth2/revoke", [("token", revoked)], basic: (id, secret)).status == .ok)

            let requests = [
                get("/v1/verify", token: token),
                get("/v1/verify", token: token, [("X-Forwarded-Host", "Tenant1.expertflow.com:443"), ("X-Request-Id", "gateway-req.1")]),
                get("/v1/verify", token: token, [("X-Forwarded-Host", "tenant2.expertflow.com")]),
                get("/v1/verify", token: token, [("X-Request-Id", "bad id")]),
                get("/v1/verify?tenant=tenant1", token: token),
                get("/v1/verify?tenant=tenant2", token: token),
                get("/v1/verify", token: sus),
                get("/v1/verify", token: revoked),
                get("/v1/verify", token: token + "x"),
                get("/v1/verify"),
                get("/v1/verify", [("Authorization", "bearer   \(token)  ")]),
                get("/v1/verify/", token: token),
                get("/v1/verify", token: subToken),
                get("/v1/verify", token: subToken, [("X-Subtenant", "sub1")]),
                get("/v1/verify", token: subToken, [("X-Subtenant", "sub2")]),
                get("/v1/verify", token: token, [("X-Subtenant", "sub1")]),
                get("/v1/verify", token: goneToken),
                get("/healthz", close: true),
            ]
            let slowServer = harness.broker.buildHTTPServer(fastPaths: false)
            let fastServer = harness.broker.buildHTTPServer(fastPaths: true)
            try await slowServer.test(.live) { slow in
                try await fastServer.test(.live) { fast in
                    // One by one, so that each request is the fast path's to answer (none waits behind a router's).
                    let viaRouter = responses(try await exchangeOneByOne(port: try #require(slow.port), requests), keep: ["gateway-req.1"])
                    let viaFastPath = responses(try await exchangeOneByOne(port: try #require(fast.port), requests), keep: ["gateway-req.1"])
                    #expect(responses(try await exchange(port: try #require(fast.port), requests), keep: ["gateway-req.1"]) == viaFastPath)
                    #expect(viaRouter.count == requests.count)
                    #expect(viaFastPath.count == requests.count)
                    for (index, (expected, actual)) in zip(viaRouter, viaFastPath).enumerated() {
                        #expect(actual == expected, "request \(index): \(requests[index].prefix(40))")
                    }
                    #expect(viaFastPath[0].first == "200 OK")
                    #expect(viaFastPath[0].contains("X-Auth-Roles: agent,supervisor"))
                    #expect(viaFastPath[1].contains("X-Request-Id: gateway-req.1"))
                    #expect(viaFastPath[2].first == "403 Forbidden")
                    #expect(viaFastPath[6].first == "401 Unauthorized")
                    #expect(viaFastPath[7].first == "401 Unauthorized")
                    #expect(viaFastPath[12].first == "200 OK")
                    #expect(viaFastPath[12].contains("X-Auth-Subtenant: sub1"))
                    #expect(viaFastPath[13].first == "200 OK")
                    #expect(viaFastPath[14].first == "403 Forbidden")
                    #expect(viaFastPath[15].first == "403 Forbidden")
                    #expect(viaFastPath[16].first == "401 Unauthorized")
                }
            }
        }
    }

    @Test("a cached success is answered without the router; anything else still reaches it")
    func answeredWithoutRouter() async throws {
        let harness = try await RegistryHarness.make(.sqlite, flags: Self.flags)
        try await harness.run { client in
            let (cached, unseen) = try await cachedAndUnseen(client)
            let before = try await client.send(.get, "/metrics", key: .some(nil)).text
            // A server whose router has no routes at all: only the fast path can answer 200.
            let bare = harness.broker.buildHTTPServer(router: Router(context: BrokerRequestContext.self), fastPaths: true)
            try await bare.test(.live) { server in
                let port = try #require(server.port)
                let replies = responses(try await exchange(port: port, [
                    get("/v1/verify", token: cached), get("/v1/verify", token: cached),
                    get("/v1/verify?tenant=tenant1", token: cached), get("/v1/verify", token: unseen),
                    // Pipelined behind a request the router has not answered yet: the router's turn too, to keep the order.
                    get("/v1/verify", token: cached), get("/v1/verify", token: cached, close: true),
                ]))
                #expect(replies.map { $0.first } == ["200 OK", "200 OK"] + Array(repeating: "404 Not Found", count: 4))
                // `Connection: close` on its own: the server closes after answering, so the router answers.
                let closing = responses(try await exchange(port: port, [get("/v1/verify", token: cached, close: true)]))
                #expect(closing.map { $0.first } == ["404 Not Found"])
            }
            let after = try await client.send(.get, "/metrics", key: .some(nil)).text
            for series in [
                #"token_broker_verifications_total{result="valid"}"#,
                #"token_broker_http_requests_total{route="/v1/verify",method="GET",code="200"}"#,
                #"token_broker_http_request_duration_seconds_count{route="/v1/verify",method="GET"}"#,
            ] {
                #expect((metricSample(after, series) ?? 0) - (metricSample(before, series) ?? 0) == 2, "\(series)")
            }
        }
    }

    @Test("pipelined requests are answered in order, fast or not, and a body on an answered request is skipped (one event loop thread)")
    func order() async throws {
        // --event-loop-threads 1: the server runs on the broker's own group, not NIO's shared one.
        let harness = try await RegistryHarness.make(.sqlite, flags: Self.flags.merging(["eventLoopThreads": "1"]) { $1 })
        try await harness.run { client in
            let (cached, unseen) = try await cachedAndUnseen(client)
            try await harness.broker.buildHTTPServer().test(.live) { server in
                let port = try #require(server.port)
                let ids = (1...7).map { "r\($0)" }
                // A body that reads like a request: answered from the cache, the request's body must still be skipped.
                let body = "GET /healthz HTTP/1.1\r\nHost: broker.test\r\n\r\n"
                let withBody = "GET /v1/verify HTTP/1.1\r\nHost: broker.test\r\nAuthorization: Bearer \(cached)\r\nX-Request-Id: r5\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
                let text = try await exchange(port: port, [
                    get("/v1/verify", token: cached, [("X-Request-Id", ids[0])]),
                    get("/v1/verify", token: unseen, [("X-Request-Id", ids[1])]),  // the router, slower (signature)
                    get("/v1/verify", token: cached, [("X-Request-Id", ids[2])]),  // must wait for r2's answer
                    get("/healthz", [("X-Request-Id", ids[3])]),
                    withBody,
                    get("/v1/verify", token: cached, [("X-Request-Id", ids[5])]),
                    get("/healthz", [("X-Request-Id", ids[6])], close: true),
                ])
                let replies = responses(text, keep: Set(ids))
                #expect(replies.count == 7, "\(text)")
                #expect(replies.map { $0.first { $0.hasPrefix("X-Request-Id: ") } } == ids.map { "X-Request-Id: \($0)" })
                #expect(replies.allSatisfy { $0.first == "200 OK" })
            }
        }
    }

    @Test("graceful shutdown lets a fast-path request whose body is still arriving finish, then closes its connection")
    func drain() async throws {
        let harness = try await RegistryHarness.make(.sqlite, flags: Self.flags.merging(["shutdownGracePeriod": "10"]) { $1 })
        try await harness.run { client in
            let (cached, _) = try await cachedAndUnseen(client)
            let (group, running, bound) = try await serveUntilListening(harness.broker)

            let connection = try RawConnection(port: bound)
            // The head is enough for the fast path's answer; it is written when the body's end arrives.
            connection.send("GET /v1/verify HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer \(cached)\r\nContent-Length: 5\r\n\r\n12")
            // In flight means read by the server (its head parsed), not waiting in a socket buffer.
            #expect(try await eventually { connection.serverHasReadEverything(port: bound) }, "the server never read the request's head")
            #expect(try await drainUntilRefused(group, port: bound), "listener still open during drain")
            connection.send("345")
            let (response, closed) = try await offPool { connection.readUntilClosed() }
            #expect(response.hasPrefix("HTTP/1.1 200"), "\(response.prefix(80))")
            #expect(response.contains("X-Auth-Tenant: tenant1"))
            #expect(closed, "the connection must close after the answer while draining")
            try await running.value
        }
    }

    @Test("HTTP dates are IMF-fixdate")
    func httpDate() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(1_795_824_000) == "Sat, 28 Nov 2026 00:00:00 GMT")
        #expect(HTTPDate.format(951_868_799) == "Tue, 29 Feb 2000 23:59:59 GMT")
    }
}
