import Broker
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization
import Testing

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
        let port = Atomic<Int>(0)
        let group = harness.broker.makeServiceGroup(router: router, onListening: { port.store($0, ordering: .relaxed) })
        let running = Task { try await group.run() }
        let deadline = ContinuousClock.now + .seconds(20)
        while port.load(ordering: .relaxed) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let bound = port.load(ordering: .relaxed)
        try #require(bound != 0)

        let connection = try RawConnection(port: bound)
        connection.send("POST /test/echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\n12345")
        try await Task.sleep(for: .milliseconds(300))
        await group.triggerGracefulShutdown()
        while RawConnection.accepts(port: bound), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!RawConnection.accepts(port: bound), "listener still open during drain")
        #expect(harness.broker.shutdown.isDraining)
        connection.send("67890")
        let response = connection.readAll()
        #expect(response.hasPrefix("HTTP/1.1 200"), "\(response.prefix(80))")
        #expect(response.hasSuffix("1234567890"))
        try await running.value
    }
}
