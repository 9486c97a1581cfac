import Broker
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JOSE
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Sends `requests` on one connection, all in one write (pipelined); the last one should close the connection.
/// The socket calls block, so they run on a thread of their own (see ForwardAuthFastPathTests).
private func exchange(port: Int, _ requests: [String], pause: (after: Int, seconds: Double)? = nil) async throws -> String {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
        Thread {
            do {
                let connection = try RawConnection(port: port)
                if let pause {
                    // The first `after` bytes, then the rest: a body that arrives in two reads (the pause is the
                    // behaviour under test, not a wait for something).
                    let text = requests.joined()
                    connection.send(String(text.utf8.prefix(pause.after))!)
                    Thread.sleep(forTimeInterval: pause.seconds)
                    connection.send(String(text.utf8.dropFirst(pause.after))!)
                } else {
                    connection.send(requests.joined())
                }
                continuation.resume(returning: connection.readAll())
            } catch {
                continuation.resume(throwing: error)
            }
        }.start()
    }
}

/// A raw POST; `body` nil sends no body and no length; `chunked` sends the body as two chunks.
private func post(
    _ path: String, key: String?, body: String? = "{}", _ headers: [(String, String)] = [], chunked: Bool = false, close: Bool = false
) -> String {
    var text = "POST \(path) HTTP/1.1\r\nHost: broker.test\r\n"
    if let key { text += "Authorization: Bearer \(key)\r\n" }
    for (name, value) in headers { text += "\(name): \(value)\r\n" }
    if close { text += "Connection: close\r\n" }
    guard let body else { return text + "\r\n" }
    text += "Content-Type: application/json\r\n"
    if chunked {
        let half = body.utf8.count / 2
        let first = String(body.utf8.prefix(half))!, second = String(body.utf8.dropFirst(half))!
        return text + "Transfer-Encoding: chunked\r\n\r\n"
            + String(first.utf8.count, radix: 16) + "\r\n\(first)\r\n" + String(second.utf8.count, radix: 16) + "\r\n\(second)\r\n0\r\n\r\n"
    }
    return text + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
}

private func get(_ path: String, close: Bool = false) -> String {
    "GET \(path) HTTP/1.1\r\nHost: broker.test\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n"
}

/// The responses in `text`: status line, header lines and body, with per-response values masked (`Date`,
/// `X-Request-Id` unless one of `keep`, `RateLimit`'s remaining count, and a body's `access_token`, which is new for
/// every mint).
private func responses(_ text: String, keep: Set<String> = []) -> [[String]] {
    text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { response in
        let parts = response.components(separatedBy: "\r\n\r\n")
        var lines = parts[0].components(separatedBy: "\r\n").map { line in
            if line.hasPrefix("Date: ") { return "Date: -" }
            // What is left of the tenant's mint limit depends on the mints before and the time between them.
            if line.hasPrefix("RateLimit: ") { return line.replacing(/;r=[0-9]+;/, with: ";r=-;") }
            if line.hasPrefix("X-Request-Id: "), !keep.contains(String(line.dropFirst(14))) { return "X-Request-Id: -" }
            return line
        }
        let body = parts.dropFirst().joined(separator: "\r\n\r\n")
        lines.append(body.replacing(/"access_token":"[A-Za-z0-9_.-]+"/, with: #""access_token":"-""#))
        return lines
    }
}

@Suite("mint fast path: API-key mints answered on the event loop, exactly as the router answers")
struct MintFastPathTests {
    static let flags = ["port": "0", "host": "127.0.0.1", "issuer": "https://broker.test"]

    @Test("the same requests get the same answers (status, headers in order, body) with and without the fast path")
    func sameAnswers() async throws {
        let harness = try await RegistryHarness.make(.sqlite, flags: Self.flags)
        try await harness.run { client in
            for id in ["tenant1", "tenant2", "sus"] { _ = try await client.send(.post, "/v1/tenants", json: tenantBody(id)) }
            _ = try await client.send(.post, "/v1/tenants/sus/suspend")
            let admin = harness.adminKey
            let minter = try await client.apiKey(["token:mint", "otp"], tenants: ["tenant1"])
            let reader = try await client.apiKey(["tenants:read"])
            let revoked = try await client.apiKey(["token:mint"])
            #expect(try await client.send(.delete, "/v1/api-keys/\(clientCredentials(revoked).0.dropFirst(4))").status == .noContent)
            let wrongSecret = String(minter.dropLast()) + (minter.hasSuffix("A") ? "B" : "A")
            for sub in ["sub1", "sub2", "gone"] { _ = try await client.send(.post, "/v1/tenants/tenant1/subtenants", json: .object(["subtenantId": .string(sub)])) }
            _ = try await client.send(.delete, "/v1/tenants/tenant1/subtenants/gone")
            let subKey = try await client.apiKey(["token:mint"], tenants: ["tenant1/sub1"])
            let path = "/v1/tenants/tenant1/token"
            let requests = [
                post(path, key: admin),
                post(path, key: minter, body: #"{"ttl": 60, "scope": "otp tenants:write", "audience": "https://app.tenant1.expertflow.com"}"#,
                     [("X-Request-Id", "component-req.1")]),
                post(path, key: admin, body: #"{"roles": ["agent", "supervisor"], "ttl": null}"#, chunked: true),
                post(path, key: admin, body: nil),
                post(path, key: admin, body: ""),
                post(path, key: admin, body: "{\"ttl\": 60"),
                post(path, key: admin, body: "[1]"),
                post(path, key: admin, body: #"{"ttl": 999999999, "color": "red", "roles": ["bad role"]}"#),
                post(path, key: admin, body: #"{"audience": "https://tenant2.expertflow.com"}"#),
                post(path, key: admin, body: #"{"ttl": 60, "ttl": 61}"#),
                post("/v1/tenants/nobody/token", key: admin),
                post("/v1/tenants/sus/token", key: admin),
                post("/v1/tenants/tenant2/token", key: minter),
                post(path, key: reader),
                post(path, key: revoked),
                post(path, key: wrongSecret),
                post(path, key: nil),
                post(path, key: "tbk_"),
                post(path + "?tenant=tenant2", key: admin),
                post("/v1/tenants/Tenant1/token", key: admin),
                post("/v1/tenants/tenant1/token/", key: admin),
                post("/v1/tenants/tenant%31/token", key: admin),
                post(path, key: admin, [("Connection", "keep-alive")]),
                post(path, key: admin, [("X-Request-Id", "bad id")]),
                post(path, key: minter, body: #"{"subtenant": "sub1"}"#),
                post(path, key: subKey, body: #"{"subtenant": "sub1"}"#),
                post(path, key: subKey, body: #"{"subtenant": "sub2"}"#),
                post(path, key: subKey),
                post(path, key: admin, body: #"{"subtenant": "gone"}"#),
                post(path, key: admin, body: #"{"subtenant": "nobody"}"#),
                "PUT \(path) HTTP/1.1\r\nHost: broker.test\r\nAuthorization: Bearer \(admin)\r\nContent-Length: 2\r\n\r\n{}",
                get("/healthz", close: true),
            ]
            // A body over the limit, then a request pipelined behind it.
            let big = [post(path, key: admin, body: "{\"audience\": \"" + String(repeating: "a", count: 70_000) + "\"}"), get("/healthz", close: true)]
            let slowServer = harness.broker.buildHTTPServer(fastPaths: false)
            let fastServer = harness.broker.buildHTTPServer(fastPaths: true)
            try await slowServer.test(.live) { slow in
                try await fastServer.test(.live) { fast in
                    let keep: Set = ["component-req.1"]
                    // One by one, so that each request is the fast path's to answer (none waits behind a router's).
                    let viaRouter = responses(try await exchangeOneByOne(port: try #require(slow.port), requests), keep: keep)
                    let viaFastPath = responses(try await exchangeOneByOne(port: try #require(fast.port), requests), keep: keep)
                    #expect(viaRouter.count == requests.count)
                    #expect(viaFastPath.count == requests.count)
                    for (index, (expected, actual)) in zip(viaRouter, viaFastPath).enumerated() {
                        #expect(actual == expected, "request \(index): \(requests[index].prefix(60))")
                    }
                    // And pipelined, all in one write: the same answers in the same order.
                    let pipelined = responses(try await exchange(port: try #require(fast.port), requests), keep: keep)
                    #expect(pipelined == viaFastPath)
                    let statuses = viaFastPath.map { $0.first ?? "" }
                    #expect(Array(statuses.prefix(5)) == Array(repeating: "200 OK", count: 5))
                    #expect(viaFastPath[1].contains("X-Request-Id: component-req.1"))
                    #expect(viaFastPath[1].last?.contains(#""scope":"otp""#) == true)
                    #expect(statuses[5].hasPrefix("400 "))
                    #expect(statuses[7].hasPrefix("422 "))
                    #expect(statuses[10].hasPrefix("404 "))
                    #expect(statuses[11].hasPrefix("403 "))
                    #expect(statuses[14].hasPrefix("401 "))
                    #expect(statuses[13].hasPrefix("403 "))
                    // The shared code's own texts (parity alone would not notice them going wrong on both paths).
                    #expect(viaFastPath[5].last?.contains("the body is not valid JSON (") == true)
                    #expect(viaFastPath[5].last?.contains("\\(") == false)
                    #expect(viaFastPath[7].last?.contains(#""field":"roles[0]""#) == true)
                    #expect(viaFastPath[11].last?.contains("the tenant is suspended") == true)
                    // Subtenant mints (indices 24-29): the claim's answer, and each refusal, the same on both paths.
                    #expect(Array(statuses[24...29]) == ["200 OK", "200 OK", "404 Not Found", "403 Forbidden", "403 Forbidden", "404 Not Found"])
                    #expect(viaFastPath[24].last?.contains(#""subtenant_id":"sub1""#) == true)
                    #expect(viaFastPath[26].last?.contains("subtenant_not_found") == true)
                    #expect(viaFastPath[28].last?.contains("tenant_inactive") == true)
                    let bigViaRouter = responses(try await exchange(port: try #require(slow.port), big))
                    let bigViaFastPath = responses(try await exchange(port: try #require(fast.port), big))
                    #expect(bigViaFastPath.map { $0.first?.prefix(4) } == ["413 ", "200 "])
                    #expect(bigViaFastPath == bigViaRouter)
                }
            }
        }
    }

    @Test("an API-key mint is answered without the router, and its token verifies; anything else still reaches the router")
    func answeredWithoutRouter() async throws {
        let harness = try await RegistryHarness.make(.sqlite, flags: Self.flags)
        try await harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1"))
            let admin = harness.adminKey
            let minter = try await client.apiKey(["token:mint"], tenants: ["tenant1"])
            let reader = try await client.apiKey(["tenants:read"])
            let before = try await client.send(.get, "/metrics", key: .some(nil)).text
            // A server whose router has no routes at all: only the fast path can answer 200.
            let bare = harness.broker.buildHTTPServer(router: Router(context: BrokerRequestContext.self), fastPaths: true)
            let token = try await bare.test(.live) { server in
                let port = try #require(server.port)
                let path = "/v1/tenants/tenant1/token"
                // A key limited to the tenant, with the mint scope, is answered here; one without the scope is not.
                let keys = try await exchange(port: port, [post(path, key: minter), post(path, key: reader, close: true)])
                #expect(responses(keys).map { $0.first } == ["200 OK", "404 Not Found"], "\(keys)")
                let text = try await exchange(port: port, [
                    post(path, key: admin, body: #"{"roles": ["agent"]}"#), post(path, key: admin, body: "{\"ttl\":"),
                    // Pipelined behind a request the router has not answered yet: the router's turn too, to keep the order.
                    post(path, key: admin), post(path, key: admin, close: true),
                ])
                let replies = responses(text)
                #expect(replies.map { $0.first } == ["200 OK"] + Array(repeating: "404 Not Found", count: 3), "\(text)")
                let first = try #require(text.components(separatedBy: "HTTP/1.1 ").dropFirst().first)
                let body = try #require(first.components(separatedBy: "\r\n\r\n").dropFirst().first)
                let token = try #require(try JSONParser().parseObject(Array(body.utf8))["access_token"]?.stringValue)

                // `Connection: close` on its own: the server closes after answering, so the router answers.
                let closing = try await exchange(port: port, [post(path, key: admin, close: true)])
                #expect(responses(closing).map { $0.first } == ["404 Not Found"], "\(closing)")
                // A body in two reads, 300 ms apart: held until its end, then answered here.
                let held = post(path, key: admin, body: #"{"roles": ["supervisor"]}"#)
                let cut = try #require(held.utf8.firstRange(of: "\r\n\r\n".utf8)).upperBound
                let split = try await exchange(
                    port: port, [held, get("/healthz", close: true)], pause: (after: held.utf8.distance(from: held.utf8.startIndex, to: cut) + 5, seconds: 0.3))
                #expect(responses(split).map { $0.first } == ["200 OK", "404 Not Found"], "\(split)")
                // Over the limit in two reads: handed to the router (here 404) with everything read so far.
                let huge = post(path, key: admin, body: "{\"a\": \"" + String(repeating: "a", count: 70_000) + "\"}", close: true)
                let large = try await exchange(port: port, [huge], pause: (after: 40_000, seconds: 0.2))
                #expect(responses(large).map { $0.first } == ["404 Not Found"], "\(large.prefix(200))")
                return token
            }
            let verified = try await client.send(.get, "/v1/verify", key: token)
            #expect(verified.status == .ok)
            #expect(verified.headers[HTTPField.Name("X-Auth-Roles")!] == "agent")
            let after = try await client.send(.get, "/metrics", key: .some(nil)).text
            for series in [
                #"token_broker_tokens_minted_total{endpoint="v1",tenant="other"}"#,
                #"token_broker_http_requests_total{route="/v1/tenants/{tenantId}/token",method="POST",code="200"}"#,
                #"token_broker_http_request_duration_seconds_count{route="/v1/tenants/{tenantId}/token",method="POST"}"#,
            ] {
                #expect((metricSample(after, series) ?? 0) - (metricSample(before, series) ?? 0) == 3, "\(series)")
            }
        }
    }

    @Test("a tenant past its mint limit gets its 429 from the fast path, byte for byte the router's, counted as the router counts it")
    func rateLimited() async throws {
        let harness = try await RegistryHarness.make(.sqlite, flags: Self.flags)
        try await harness.run { client in
            // One tenant per server, so that each starts with a full bucket of one mint per second.
            for id in ["capped1", "capped2", "capped3"] {
                _ = try await client.send(.post, "/v1/tenants", json: tenantBody(id) { $0["limits"] = .object(["mintPerSecond": .int(1)]) })
            }
            let key = try await client.apiKey(["token:mint"], tenants: ["capped1", "capped2", "capped3"])
            @Sendable func twice(_ tenant: String) -> [String] {
                [post("/v1/tenants/\(tenant)/token", key: key), post("/v1/tenants/\(tenant)/token", key: key, body: #"{"ttl": 60}"#)]
            }
            let slowServer = harness.broker.buildHTTPServer(fastPaths: false)
            let fastServer = harness.broker.buildHTTPServer(fastPaths: true)
            try await slowServer.test(.live) { slow in
                try await fastServer.test(.live) { fast in
                    let viaRouter = responses(try await exchangeOneByOne(port: try #require(slow.port), twice("capped1")))
                    let viaFastPath = responses(try await exchangeOneByOne(port: try #require(fast.port), twice("capped2")))
                    #expect(viaRouter.map { $0.first } == ["200 OK", "429 Too Many Requests"], "\(viaRouter)")
                    // The 200s differ only in their bodies (the tenant); the 429s not at all.
                    #expect(viaFastPath.first?.dropLast() == viaRouter.first?.dropLast())
                    #expect(viaFastPath.last == viaRouter.last)
                    #expect(viaFastPath.last?.contains("RateLimit-Policy: \"mint\";q=1;w=1") == true, "\(viaFastPath)")
                    #expect(viaFastPath.last?.contains("Retry-After: 1") == true)
                    #expect(viaFastPath.last?.last?.contains(#""code":"rate_limited""#) == true)
                }
            }
            // A server whose router has no routes: a 429 here is the fast path's.
            let before = try await client.send(.get, "/metrics", key: .some(nil)).text
            let bare = harness.broker.buildHTTPServer(router: Router(context: BrokerRequestContext.self), fastPaths: true)
            try await bare.test(.live) { server in
                let replies = responses(try await exchangeOneByOne(port: try #require(server.port), twice("capped3")))
                #expect(replies.map { $0.first } == ["200 OK", "429 Too Many Requests"], "\(replies)")
            }
            let after = try await client.send(.get, "/metrics", key: .some(nil)).text
            for series in [
                #"token_broker_rate_limited_total{route="/v1/tenants/{tenantId}/token",limit="mint",tenant="other"}"#,
                #"token_broker_http_requests_total{route="/v1/tenants/{tenantId}/token",method="POST",code="429"}"#,
            ] {
                #expect((metricSample(after, series) ?? 0) - (metricSample(before, series) ?? 0) == 1, "\(series)")
            }
        }
    }
}
