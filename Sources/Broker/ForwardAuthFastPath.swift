import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Prometheus

/// Forward-auth's hot case answered on the connection's event loop: `GET /v1/verify` with a token whose
/// verification is cached as valid. Gateways (nginx `auth_request`, Traefik, Envoy) send one such request
/// per request they proxy, mostly with a token already seen. Through the router, each one costs two thread
/// hops (event loop to Swift concurrency's pool and back) and an async request context, several times the
/// cost of the answer itself; here it is one synchronous call on the thread that read the request.
///
/// The answer is exactly the router's (`VerifyController.verify` behind `RequestObservabilityMiddleware`):
/// the same status and headers (identity headers, `Content-Length: 0`, `X-Request-Id` accepted or generated,
/// `Date`), the same metrics (`verifications{result="valid"}`, `http_requests` and its duration histogram).
/// Anything else goes to the router unchanged, and so does every request this cannot answer the same way:
/// - another method or path, any query string (`?tenant=`, `?audience=` are parsed by the router);
/// - `Connection` or `Expect` headers (closing, upgrades and `100-continue` are the server's business);
/// - a token whose cached answer is not a success now (not cached, refused, revoked, tenant inactive,
///   expired): the full path gives the 401, or tries Keycloak;
/// - a tenant hint (`X-Forwarded-Host`) for another tenant: the router's 403 is logged at info;
/// - a log level of debug or lower (the router writes an access log line for a 200 then) or tracing on
///   (the router opens a span).
struct ForwardAuthFastPath: Sendable {
    let verifier: TokenVerifier
    let metrics: BrokerMetrics
    /// The broker's logger: its level is read per request (a SIGHUP can change it).
    let logger: Logger
    let tracing: Bool
    /// `--require-tenant-hint`: a request without a hint is the router's (its 403 is not a cached success).
    var requireTenantHint = false

    static let route = "/v1/verify"

    /// The series a fast answer counts in, looked up once per connection instead of per request (each lookup
    /// takes a lock that every event loop thread shares).
    struct Series: Sendable {
        let valid: Counter
        let request: BrokerMetrics.RequestHandles
    }

    func series() -> Series {
        Series(valid: metrics.verificationCounter("valid"), request: metrics.requestHandles(route: Self.route, method: "GET", status: 200))
    }

    /// The response to `head` without its `Date` (the caller appends it last, as the server does), or nil when
    /// the router must answer it. `series` is made on first use.
    func respond(to head: HTTPRequest, series: inout Series?) -> HTTPResponse? {
        guard head.method == .get, head.path == Self.route, !tracing, logger.logLevel > .debug else { return nil }
        let fields = head.headerFields
        guard !fields.contains(.connection), !fields.contains(.expect) else { return nil }
        let start = ContinuousClock.now
        guard !requireTenantHint || VerifyController.hasTenantHint(tenantQuery: nil, headers: fields),
            let header = fields.value(of: .authorization), let token = APIKeyAuthenticator.bearer(header), !token.isEmpty,
            let verified = verifier.cachedSuccess(token),
            VerifyController.tenantHintsMatch(
                tenantQuery: nil, headers: fields, tenantId: verified.tenantId, tenantDomain: verified.tenantDomain)
        else { return nil }
        var headers = VerifyController.identityHeaders(
            tenantId: verified.tenantId, subject: verified.subject, roles: verified.roles, scope: verified.scope)
        let counted = series ?? self.series()
        series = counted
        counted.valid.increment()
        // In the order the router's answer has them: the response's own, then the middleware's, then the server's.
        headers.append(HTTPField(name: .contentLength, value: "0"))
        let requestId =
            RequestObservabilityMiddleware.acceptedRequestID(fields.value(of: RequestObservabilityMiddleware.requestIDHeader))
            ?? RequestObservabilityMiddleware.newRequestID()
        headers.append(HTTPField(name: RequestObservabilityMiddleware.requestIDHeader, value: requestId))
        counted.request.record(ContinuousClock.now - start)
        return HTTPResponse(status: .ok, headerFields: headers)
    }
}

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

/// The `Date` header (RFC 9110 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"), formatted once per second.
/// One per connection handler: no shared state between event loops.
public struct HTTPDate {
    private var second = Int.min
    private var text = ""

    mutating func current() -> String {
        let now = time(nil)
        if now != second {
            second = now
            text = Self.format(now)
        }
        return text
    }

    public static func format(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
