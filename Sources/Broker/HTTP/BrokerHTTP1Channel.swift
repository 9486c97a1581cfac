import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1.1 child channel with the broker's handlers added to each connection's pipeline: the read
/// deadlines (`RequestDeadlineHandler`, always) and the fast paths (both nil: none).
struct BrokerHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let base: HTTP1Channel
    let verify: ForwardAuthFastPath?
    let mint: MintFastPath?
    /// `--request-head-timeout`: a whole head, and every stretch of a body, must arrive within it.
    let requestHeadTimeout: TimeAmount
    let metrics: BrokerMetrics

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let verify = self.verify
        let mint = self.mint
        let timeout = requestHeadTimeout
        let metrics = self.metrics
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let deadlines = RequestDeadlineHandler(timeout: timeout) { phase in
                let name = phase == .readingHead ? "head" : "body"
                metrics.recordConnectionTimeout(name)
                logger.debug(
                    "closing a connection: read deadline missed",
                    metadata: ["phase": .string(name), "peer": .string(channel.remoteAddress?.ipAddress ?? "-")])
            }
            try pipeline.addHandler(deadlines, position: .before(try pipeline.handler(type: HTTP1ToHTTPServerCodec.self)))
            try pipeline.addHandler(ConnectionActivityHandler(deadlines: deadlines), position: .first)
            if verify != nil || mint != nil {
                let state = try pipeline.handler(type: HTTPConnectionStateHandler.self)
                try pipeline.addHandler(FastPathHandler(verify: verify, mint: mint), position: .after(state))
            }
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
