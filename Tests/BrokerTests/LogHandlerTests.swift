import Broker
import Logging
import Synchronization
import Testing

/// Records every event it is handed, with the metadata it carries at that moment.
private struct CapturingHandler: LogHandler {
    let capture: Capture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, line in line }
        capture.events.withLock { $0.append((event.message.description, merged)) }
    }
}

private final class Capture: Sendable {
    let events = Mutex<[(message: String, metadata: Logger.Metadata)]>([])
}

@Suite("log handler wrapper") struct LogHandlerTests {
    @Test("metadata set on a request's logger reaches every line, the line's own metadata wins, and copies stay apart")
    func metadataReachesLines() {
        let capture = Capture()
        let control = LogLevelControl(.debug)
        var logger = Logger(label: "test") { _ in
            ReloadableLogHandler(CapturingHandler(capture: capture), control: control)
        }
        logger[metadataKey: "hb.request.id"] = "hb-1"
        var request = logger
        request[metadataKey: "requestId"] = "req-1"
        request[metadataKey: "hb.request.id"] = nil
        request.info("first", metadata: ["route": "/v1/verify", "requestId": "line-wins"])
        request.debug("second")
        request.trace("dropped: below the shared level")
        logger.info("from the original logger")
        control.set(.error)
        request.info("dropped after the level was raised")

        let events = capture.events.withLock { $0 }
        #expect(events.map(\.message) == ["first", "second", "from the original logger"])
        #expect(events[0].metadata["route"] == "/v1/verify")
        #expect(events[0].metadata["requestId"] == "line-wins")
        #expect(events[0].metadata["hb.request.id"] == nil)
        #expect(events[1].metadata["requestId"] == "req-1")
        #expect(events[2].metadata["requestId"] == nil, "a copy's metadata must not leak into the logger it was copied from")
        #expect(events[2].metadata["hb.request.id"] == "hb-1")
        #expect(request[metadataKey: "requestId"] == "req-1")
    }
}
