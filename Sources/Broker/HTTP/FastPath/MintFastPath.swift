import HTTPTypes
import Logging
import NIOCore
import TenantRegistry
import Tokens

/// Minting's common case answered on the connection's event loop: `POST /v1/tenants/{tenantId}/token` by an
/// API key allowed to mint for the tenant. Core components mint with API keys; through the router each mint
/// also pays two thread hops and an async request context, about a third of its cost beside the signature.
///
/// Decided in two steps. At the request's head: the route, the API key (from memory, as the router's
/// authenticator reads it) and the policy (`token:mint` on a tenant the key may see). At its end: the body and
/// the mint itself, through `MintV1`, the code the router's handler runs. The answer is exactly the router's:
/// the same status, headers (`Cache-Control`, `Pragma`, `Content-Type`, `Content-Length`, `X-Request-Id`
/// accepted or generated, `Date`), body and metrics (`tokens_minted`, `http_requests` and its histogram).
///
/// Everything else goes to the router, head and body as they arrived, and so does every request this cannot
/// answer the same way:
/// - another method or path, any query string;
/// - `Connection` or `Expect` headers (closing, upgrades and `100-continue` are the server's business);
/// - no API key, or one that is unknown here (the router may reload keys from the store), revoked or wrong;
/// - a key without `token:mint` or limited to other tenants (the router's 403 and 404);
/// - a body over the limit, a body that is not valid, a tenant unknown or not active: the router's error
///   (a tenant past its mint limit is answered here: its 429 is an answer of `MintV1`, not an error);
/// - a log level of debug or lower (the router writes an access log line for a 200 then) or tracing on.
struct MintFastPath: Sendable {
    let mint: MintV1
    let apiKeys: APIKeyDirectory
    let metrics: BrokerMetrics
    /// The broker's logger: its level is read per request (a SIGHUP can change it).
    let logger: Logger
    let tracing: Bool

    private static let prefix = Array("/v1/tenants/".utf8)
    private static let suffix = Array("/token".utf8)

    /// A mint this path may answer once its body has arrived.
    struct Candidate {
        let caller: CallerIdentity
        let tenantId: String
        let requestId: String?
        let start: ContinuousClock.Instant
    }

    /// The caller and tenant of a mint the router would authorise, or nil when the router must answer.
    func candidate(for head: HTTPRequest) -> Candidate? {
        guard head.method == .post, let path = head.path, !tracing, logger.logLevel > .debug else { return nil }
        let fields = head.headerFields
        guard !fields.contains(.connection), !fields.contains(.expect) else { return nil }
        let start = ContinuousClock.now
        guard let tenantId = Self.tenantId(inPath: path), let header = fields.value(of: .authorization),
            let presented = CallerAuthentication.bearer(header), presented.hasPrefix("tbk_"), let parts = APIKeyRecord.parse(presented),
            let record = apiKeys.activeKey(id: parts.id), record.matches(secret: parts.secret)
        else { return nil }
        let caller = CallerIdentity(apiKey: record)
        // The router's own decision, as its handler asks it; the subtenant (if any) is checked when minting.
        guard (try? AccessPolicy.tenantScope(caller, tenantId: tenantId, scope: AccessPolicy.mintScope, subtenantLevel: true)) != nil else { return nil }
        return Candidate(caller: caller, tenantId: tenantId, requestId: fields.value(of: ResponseDecoration.requestIDHeader), start: start)
    }

    /// `tenantId` of `/v1/tenants/{tenantId}/token` when it is a valid id (so the router's parameter is the same
    /// string: valid ids have nothing to decode), else nil.
    static func tenantId(inPath path: String) -> String? {
        let bytes = path.utf8
        guard bytes.count > prefix.count + suffix.count, bytes.starts(with: prefix), bytes.reversed().starts(with: suffix.reversed()) else { return nil }
        let id = String(Substring(path.utf8.dropFirst(prefix.count).dropLast(suffix.count)))
        return TenantRules.isValidTenantId(id) ? id : nil
    }

    /// The answer to `candidate` with `body` (the request's body bytes), without its `Date` (the caller appends it
    /// last, as the server does), or nil when the router must answer. `series` is made on first use.
    func respond(to candidate: Candidate, body: [UInt8], series: inout BrokerMetrics.RequestHandles?) -> (HTTPResponse, ByteBuffer)? {
        guard let answer = try? mint.answer(caller: candidate.caller, tenantId: candidate.tenantId, body: body) else { return nil }
        let bytes = ByteBuffer(bytes: answer.body)
        let headers = ResponseDecoration.fastAnswerHeaders(answer.headers, contentLength: bytes.readableBytes, requestID: candidate.requestId)
        if answer.status == .ok {
            let counted = series ?? metrics.requestHandles(route: RoutePaths.mintLabel, method: "POST", status: 200)
            series = counted
            counted.record(ContinuousClock.now - candidate.start)
        } else {
            // A tenant past its mint limit (429): counted and summed up in the log as the router's middleware does.
            metrics.requestHandles(route: RoutePaths.mintLabel, method: "POST", status: Int(answer.status.code)).record(ContinuousClock.now - candidate.start)
            metrics.refusals.record(logger)
        }
        return (HTTPResponse(status: answer.status, headerFields: headers), bytes)
    }
}
