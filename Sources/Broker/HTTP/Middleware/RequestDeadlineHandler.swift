import Logging
import NIOCore
import NIOHTTP1

/// Deadlines on reading requests, and connection closing for requests that are not keep-alive, on every
/// connection (between NIO's HTTP/1 decoder and the HTTP types codec, so it sees the HTTP version):
/// - a whole request head must arrive within `timeout` of the connection opening, or of the first byte after the
///   previous exchange (a keep-alive connection idle between requests is Hummingbird's `idleTimeout`);
/// - a request body may not stall (no bytes) for `timeout`;
/// - a request that is not keep-alive (HTTP/1.0 without `Connection: keep-alive`, or `Connection: close`) is
///   answered with `Connection: close`, and the connection is closed once that answer is written.
///
/// Without these, a client that opens connections and sends nothing, or half a head, or a body that never ends,
/// holds a file descriptor and memory for ever; enough of them stop the broker from accepting anyone.
///
/// On the hot path this costs a clock read per request head and body part: one timer is scheduled when a phase
/// with a deadline starts and none is running, and when it fires it either closes the connection or, if the
/// deadline moved, schedules itself again for the new one. A connection serving a steady stream of requests
/// schedules about one timer per `timeout`.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    enum Phase {
        /// Between exchanges, no byte of the next request yet: no deadline here.
        case awaitingBytes
        /// Bytes of a head (or a TLS handshake) arrived, or the connection just opened: the head is due.
        case readingHead
        /// A head arrived: the body must keep moving.
        case readingBody
        /// The request is complete; the broker is answering.
        case answering
    }

    private let timeout: TimeAmount
    private let onTimeout: (Phase) -> Void
    private var phase = Phase.readingHead
    /// `.readingHead`: when the head started (the deadline does not move with more bytes of it);
    /// `.readingBody`: the last body progress.
    private var since = NIODeadline.now()
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    /// Requests read whose answer has not ended.
    private var inFlight = 0
    /// Bytes of the next request arrived while the current one was being answered (pipelining).
    private var bytesWhileAnswering = false
    private var headsRead = 0
    private var answersEnded = 0
    /// The index of the first request that is not keep-alive: its answer closes the connection.
    private var closeAfter: Int?

    /// `onTimeout` is called on the event loop before a connection is closed for a missed deadline.
    init(timeout: TimeAmount, onTimeout: @escaping (Phase) -> Void = { _ in }) {
        self.timeout = timeout
        self.onTimeout = onTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        since = .now()
        arm()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    /// Called by `ConnectionActivityHandler` for every read of raw bytes, before the decoder sees them.
    func bytesArrived() {
        switch phase {
        case .awaitingBytes:
            phase = .readingHead
            since = .now()
            arm()
        case .answering:
            bytesWhileAnswering = true
        case .readingHead, .readingBody:
            break
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(var head):
            inFlight += 1
            bytesWhileAnswering = false
            phase = .readingBody
            since = .now()
            arm()
            headsRead += 1
            if !head.isKeepAlive {
                if closeAfter == nil { closeAfter = headsRead - 1 }
                // Hummingbird stops reading after a request with `Connection: close`, and the fast paths leave such
                // requests to the router: an HTTP/1.0 request without keep-alive says so explicitly from here on.
                head.headers.replaceOrAdd(name: "Connection", value: "close")
                context.fireChannelRead(wrapInboundOut(.head(head)))
                return
            }
        case .body:
            if phase == .readingBody { since = .now() }
        case .end:
            if phase == .readingBody { phase = .answering }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 200 && answersEnded == closeAfter:
            head.headers.replaceOrAdd(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end:
            answersEnded += 1
            inFlight -= 1
            if inFlight <= 0, phase == .answering {
                inFlight = 0
                if bytesWhileAnswering {
                    bytesWhileAnswering = false
                    phase = .readingHead
                    since = .now()
                    arm()
                } else {
                    phase = .awaitingBytes
                }
            }
            if let closeAfter, answersEnded > closeAfter {
                // The answer to a request that is not keep-alive: close once it is on the wire.
                let written = context.eventLoop.makePromise(of: Void.self)
                written.futureResult.cascade(to: promise)
                context.writeAndFlush(data, promise: written)
                written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                return
            }
            context.write(data, promise: promise)
        default:
            context.write(data, promise: promise)
        }
    }

    /// Schedules the timer for the current deadline unless one is running (it re-checks when it fires).
    private func arm() {
        guard timer == nil, let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: since + timeout) { [self] in fired() }
    }

    private func fired() {
        timer = nil
        switch phase {
        case .readingHead, .readingBody:
            if NIODeadline.now() >= since + timeout {
                onTimeout(phase)
                context?.close(promise: nil)
            } else {
                arm()
            }
        case .awaitingBytes, .answering:
            break
        }
    }
}
