import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Prometheus
import Tokens

/// Forward-auth's hot case answered on the connection's event loop: `GET /v1/verify` with a token whose
/// verification is cached as valid. Gateways (nginx `auth_request`, Traefik, Envoy) send one such request
/// per request they proxy, mostly with a token already seen. Through the router, each one costs two thread
/// hops (event loop to Swift concurrency's pool and back) and an async request context, several times the
/// cost of the answer itself; here it is one synchronous call on the thread that read the request.
///
/// The answer is exactly the router's (`VerifyRoutes.verify` behind `RequestObservabilityMiddleware`):
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


    /// The series a fast answer counts in, looked up once per connection instead of per request (each lookup
    /// takes a lock that every event loop thread shares).
    struct Series: Sendable {
        let valid: Counter
        let request: BrokerMetrics.RequestHandles
    }

    func series() -> Series {
        Series(valid: metrics.verificationCounter("valid"), request: metrics.requestHandles(route: RoutePaths.verify, method: "GET", status: 200))
    }

    /// The response to `head` without its `Date` (the caller appends it last, as the server does), or nil when
    /// the router must answer it. `series` is made on first use.
    func respond(to head: HTTPRequest, series: inout Series?) -> HTTPResponse? {
        guard head.method == .get, head.path == RoutePaths.verify, !tracing, logger.logLevel > .debug else { return nil }
        let fields = head.headerFields
        guard !fields.contains(.connection), !fields.contains(.expect) else { return nil }
        let start = ContinuousClock.now
        guard !requireTenantHint || VerifyRoutes.hasTenantHint(tenantQuery: nil, headers: fields),
            let header = fields.value(of: .authorization), let token = CallerAuthentication.bearer(header), !token.isEmpty,
            let verified = verifier.cachedSuccess(token),
            VerifyRoutes.tenantHintsMatch(
                tenantQuery: nil, headers: fields, tenantId: verified.tenantId, tenantDomain: verified.tenantDomain),
            VerifyRoutes.subtenantHintsMatch(subtenantQuery: nil, headers: fields, subtenantId: verified.subtenantId)
        else { return nil }
        let headers = ResponseDecoration.fastAnswerHeaders(
            VerifyRoutes.identityHeaders(
                tenantId: verified.tenantId, subtenantId: verified.subtenantId, subject: verified.subject, roles: verified.roles, scope: verified.scope),
            contentLength: 0, requestID: fields.value(of: ResponseDecoration.requestIDHeader))
        let counted = series ?? self.series()
        series = counted
        counted.valid.increment()
        counted.request.record(ContinuousClock.now - start)
        return HTTPResponse(status: .ok, headerFields: headers)
    }
}
