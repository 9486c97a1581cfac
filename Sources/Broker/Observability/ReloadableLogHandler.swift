import Logging

/// Wraps a handler so that its level is the shared `LogLevelControl`'s (a per-logger override is ignored:
/// the operator's level wins).
///
/// Logger metadata set on the wrapper (the request id, once per request) is kept here and handed to the
/// inner handler only when a line is written: the inner handler is never mutated after it is made. That
/// keeps a metadata change cheap on the hot path; swift-log's `StreamLogHandler` re-renders all of its
/// metadata on every change, which cost more than the rest of a cached `/v1/verify`.
public struct ReloadableLogHandler: LogHandler {
    let inner: any LogHandler
    let control: LogLevelControl
    public var metadata: Logger.Metadata = [:]

    public init(_ inner: any LogHandler, control: LogLevelControl) {
        self.inner = inner
        self.control = control
    }

    public var logLevel: Logger.Level {
        get { control.level }
        set {}
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] ?? inner[metadataKey: key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        guard !metadata.isEmpty else { return inner.log(event: event) }
        var event = event
        // The line's own metadata wins over the logger's, as swift-log's handlers merge them.
        event.metadata = metadata.merging(event.metadata ?? [:]) { _, line in line }
        inner.log(event: event)
    }
}
