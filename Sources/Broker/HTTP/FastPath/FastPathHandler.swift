import HTTPTypes
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// The fast paths' place in a connection's pipeline (forward-auth's `ForwardAuthFastPath`, minting's
/// `MintFastPath`): right after Hummingbird's `HTTPConnectionStateHandler`, so that handler still sees every
/// request and every response (idle timeout, graceful shutdown's close after the response in progress), and
/// before the async channel the router reads from.
///
/// Responses leave in request order: while a request passed on to the router has not been answered (its
/// response's end not written), every later request is passed on too. A forward-auth answer is decided at the
/// request's head and written at its end; its body, if it has one, is dropped, as the router's verify route
/// drops it. A mint candidate's head and body are held until its end (at most the body limit, 64 KiB; past
/// that they go to the router at once, which answers 413); if the mint is not answered here, the router gets
/// the head, the body and the end as they would have arrived.
final class FastPathHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let verify: ForwardAuthFastPath?
    private let mint: MintFastPath?
    /// Requests passed on to the router whose response has not ended.
    private var passedOn = 0
    /// The forward-auth answer to the request being read, written when its end arrives.
    private var answer: HTTPResponse?
    /// The mint being read: its head and the body so far.
    private var held: (head: HTTPRequest, candidate: MintFastPath.Candidate, body: ByteBuffer?)?
    private var needsFlush = false
    private var date = HTTPDate()
    private var verifySeries: ForwardAuthFastPath.Series?
    private var mintSeries: BrokerMetrics.RequestHandles?

    init(verify: ForwardAuthFastPath?, mint: MintFastPath?) {
        self.verify = verify
        self.mint = mint
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if passedOn == 0, answer == nil, held == nil, context.channel.isWritable {
                if let verify, var response = verify.respond(to: head, series: &verifySeries) {
                    // Only for answers: a request the router takes gets its Date from the server.
                    response.headerFields.append(HTTPField(name: .date, value: date.current()))
                    answer = response
                    return
                }
                if let mint, let candidate = mint.candidate(for: head) {
                    held = (head, candidate, nil)
                    return
                }
            }
            passedOn += 1
        case .body(let part):
            if answer != nil { return }
            if var request = held {
                held = nil
                if request.body == nil { request.body = part } else { request.body!.writeImmutableBuffer(part) }
                if request.body!.readableBytes > RequestBody.defaultLimit {
                    passOn(request, context: context)
                } else {
                    held = request
                }
                return
            }
        case .end:
            if let response = answer {
                answer = nil
                context.write(wrapOutboundOut(.head(response)), promise: nil)
                context.write(wrapOutboundOut(.end(nil)), promise: nil)
                needsFlush = true
                return
            }
            if let request = held, let mint {
                held = nil
                let body = request.body.map { Array(buffer: $0) } ?? []
                if let (answered, bytes) = mint.respond(to: request.candidate, body: body, series: &mintSeries) {
                    var response = answered
                    response.headerFields.append(HTTPField(name: .date, value: date.current()))
                    context.write(wrapOutboundOut(.head(response)), promise: nil)
                    context.write(wrapOutboundOut(.body(bytes)), promise: nil)
                    context.write(wrapOutboundOut(.end(nil)), promise: nil)
                    needsFlush = true
                    return
                }
                passOn(request, context: context)
            }
        }
        context.fireChannelRead(data)
    }

    /// Hands a held mint to the router: its head and the body so far (the rest, and the end, follow as they arrive).
    private func passOn(_ request: (head: HTTPRequest, candidate: MintFastPath.Candidate, body: ByteBuffer?), context: ChannelHandlerContext) {
        passedOn += 1
        context.fireChannelRead(wrapInboundOut(.head(request.head)))
        if let body = request.body { context.fireChannelRead(wrapInboundOut(.body(body))) }
    }

    /// A framing error (a bad chunk) in a request held or answered here: the router gets the held mint's head and
    /// body so far and then the error, so it answers the same 400 it gives a request it read itself. A forward-auth
    /// answer decided at the head is dropped: the request never completed.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        answer = nil
        if let request = held {
            held = nil
            passOn(request, context: context)
        }
        context.fireErrorCaught(error)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), passedOn > 0 { passedOn -= 1 }
        context.write(data, promise: promise)
    }
}
