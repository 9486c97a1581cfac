import Broker
import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle
import StoreTestSupport
import Synchronization
import Testing

/// Runs `broker`'s service group (on `router`, if given) until its listener is bound: the group, the task running
/// it, and the port.
func serveUntilListening(
    _ broker: BrokerApplication, router: Router<BrokerRequestContext>? = nil
) async throws -> (group: ServiceGroup, running: Task<Void, any Error>, port: Int) {
    let port = Atomic<Int>(0)
    let group = broker.makeServiceGroup(router: router, onListening: { port.store($0, ordering: .relaxed) })
    let running = Task { try await group.run() }
    let deadline = ContinuousClock.now + .seconds(20)
    while port.load(ordering: .relaxed) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    let bound = port.load(ordering: .relaxed)
    if bound == 0 {
        running.cancel()
        throw TestFailure("the server did not start listening within 20 s")
    }
    return (group, running, bound)
}

/// Starts a graceful shutdown and waits (up to 20 s) until `port` refuses connections; false if it never did.
func drainUntilRefused(_ group: ServiceGroup, port: Int) async throws -> Bool {
    await group.triggerGracefulShutdown()
    let deadline = ContinuousClock.now + .seconds(20)
    while RawConnection.accepts(port: port), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    return !RawConnection.accepts(port: port)
}

@Suite("graceful shutdown") struct DrainTests {
    @Test("graceful shutdown closes the listener but lets a request whose body is still arriving finish")
    func drainsInFlightRequest() async throws {
        let harness = try await InProcessBroker(flags: ["port": "0", "shutdownGracePeriod": "10"])
        let router = harness.broker.buildRouter()
        // A route that reads its whole body, so the request stays in flight until the client finishes sending.
        router.post("/test/echo") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1024)
            return Response(status: .ok, body: .init(byteBuffer: body))
        }
        let (group, running, bound) = try await serveUntilListening(harness.broker, router: router)

        let connection = try RawConnection(port: bound)
        connection.send("POST /test/echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\n12345")
        // In flight means read by the server (its head parsed), not waiting in a socket buffer.
        #expect(try await eventually { connection.serverHasReadEverything(port: bound) }, "the server never read the request's head")
        #expect(try await drainUntilRefused(group, port: bound), "listener still open during drain")
        #expect(harness.broker.shutdown.isDraining)
        connection.send("67890")
        let response = try await offPool { connection.readAll() }
        #expect(response.hasPrefix("HTTP/1.1 200"), "\(response.prefix(80))")
        #expect(response.hasSuffix("1234567890"))
        try await running.value
    }
}

@Suite("graceful shutdown of the real binary under load") struct DrainUnderLoadTests {
    /// One request on a fresh connection: the status line, "refused" when the listener is gone, or the failure.
    @available(*, noasync, message: "blocks: call it inside offPool { } or on a thread of its own")
    static func oneRequest(port: Int) -> String {
        guard let connection = try? RawConnection(port: port) else { return "refused" }
        connection.send("GET /.well-known/jwks.json HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        let (text, _) = connection.readUntilClosed()
        guard text.hasPrefix("HTTP/1.1 ") else { return "failed: \(text.isEmpty ? "connection closed without an answer" : String(text.prefix(40)))" }
        return String(text.prefix(12))
    }

    @Test("SIGTERM while 6 clients loop: nothing fails before shutdown begins, in-flight requests complete, exit 0")
    func drainUnderLoad() async throws {
        let scratch = ScratchDirectory()
        let broker = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys", directory: scratch.path,
            extraArguments: ["--shutdown-grace-period", "20", "--database", "sqlite:\(scratch.path)/db.sqlite"])
        defer { broker.signal(SIGKILL) }
        let port = broker.port
        // Two requests whose bodies are still arriving when SIGTERM comes.
        let slow = try (0..<2).map { _ in try RawConnection(port: port) }
        for connection in slow {
            connection.send("POST /v1/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 34\r\n\r\n{\"username\":")
        }
        let results = LockedList()
        // Blocking sockets on plain threads: they must not occupy the test's cooperative thread pool.
        let finished = Atomic<Int>(0)
        for _ in 0..<6 {
            Thread.detachNewThread {
                let started = ContinuousClock.now
                while ContinuousClock.now - started < .seconds(20) {
                    let outcome = Self.oneRequest(port: port)
                    results.append(outcome)
                    if outcome == "refused" { break }
                }
                finished.add(1, ordering: .relaxed)
            }
        }
        let warmup = ContinuousClock.now + .seconds(20)
        while results.count < 30, ContinuousClock.now < warmup { try await Task.sleep(for: .milliseconds(10)) }
        let before = results.count
        let failedBefore = results.items.filter { $0.hasPrefix("failed") }.count
        broker.signal(SIGTERM)
        // Each client stops at its first refused connection, or after 20 s (and a last read of up to 10 s).
        #expect(try await eventually(within: .seconds(40)) { finished.load(ordering: .relaxed) == 6 }, "the clients did not stop")
        let outcomes = results.items
        let failures = outcomes.filter { $0.hasPrefix("failed") }
        #expect(before >= 30, "the load ran (\(before) requests before SIGTERM)")
        #expect(failedBefore == 0, "no request fails before shutdown begins")
        // Connections the kernel completed in the listen backlog at the instant the listener closes are reset
        // (a TCP property, not the broker's): at most one request per client, at that instant. Gateways stop
        // sending earlier: /readyz turns 503 first (deploy/kubernetes adds a preStop delay).
        #expect(failures.count <= 6, "\(failures.count) of \(outcomes.count) requests failed: \(failures.prefix(3))")
        #expect(outcomes.filter { $0 == "refused" }.count == 6, "each client stops at its first refused connection")
        #expect(outcomes.filter { $0.hasPrefix("HTTP/1.1 200") }.count == outcomes.count - 6 - failures.count)
        // The held requests finish after the listener closed.
        for connection in slow {
            connection.send("\"ada\",\"password\":\"pw\"}")
            let answer = try await offPool { connection.readAll() }
            #expect(answer.hasPrefix("HTTP/1.1 "), "in-flight request dropped: \(answer.prefix(60))")
        }
        #expect(try await broker.waitForExit(timeout: .seconds(25)) == 0)
    }
}
