import HTTPTypes
import Hummingbird
import JOSE
import Logging
import Synchronization
import TenantRegistry
import Tokens
import Tracing

/// Outermost middleware: assigns the request id, turns every error into the contract's error shape (`ErrorMapping`),
/// records metrics and writes the access log line. Nothing a client sends can make it answer 500
/// unless a handler itself fails, and then the body says only "see the log" with the request id.
///
/// A request about one tenant carries `tenant` in its logger's metadata (so in every line it logs) and in the
/// access log line: the `{tenantId}` path parameter, which the router has already matched when this runs, or,
/// for forward-auth, the verified token's tenant as its handler reports it.
struct RequestObservabilityMiddleware: RouterMiddleware {
    typealias Context = BrokerRequestContext
    let metrics: BrokerMetrics
    /// `--tracing-endpoint` is set: every line a request logs carries its `traceId`.
    var tracing = false
    /// A tenant id as a metric label (`RuntimeSettings.metricsTenantLabel`).
    var tenantLabel: @Sendable (String) -> String = { _ in "other" }
    /// Refusals are logged at debug each and summed up at info (with the fast paths' refusals).
    var refusals: RefusalLog { metrics.refusals }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestId = ResponseDecoration.requestID(sent: request.headers.value(of: ResponseDecoration.requestIDHeader))
        context.requestId = requestId
        context.logger[metadataKey: "requestId"] = .string(requestId)
        context.logger[metadataKey: "hb.request.id"] = nil
        if tracing, let traceId = Self.currentTraceID() { context.logger[metadataKey: "traceId"] = .string(traceId) }
        if let tenantId = context.parameters.get("tenantId") {
            // Only a well-formed id: a hostile path segment stays in `path`, where it is already logged as sent.
            if TenantRules.isValidTenantId(tenantId) { context.logger[metadataKey: "tenant"] = .string(tenantId) }
        } else if context.endpointPath == RoutePaths.verify {
            context.tenantReport = TenantReport()
        }
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Every failure maps to its answer in one place, whatever route threw it.
            response = try ErrorMapping.response(for: error, request: request, context: context)
        }
        ResponseDecoration.appendRequestID(requestId, to: &response.headers)
        let duration = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        let status = Int(response.status.code)
        metrics.recordRequest(route: route, method: Self.methodLabel(request.method), status: status, duration: duration)
        let refused = RefusalLog.isRefusal(status: status, route: route)
        if refused { refusals.record(context.logger) }
        if status == 429 { recordLimited(response, route: route, context: context) }
        let level: Logger.Level = status >= 500 ? .error : status >= 400 && !refused ? .info : .debug
        // An autoclosure: at the usual level (info) a 2xx line is dropped before its metadata is built.
        context.logger.log(
            level: level, "request",
            metadata: Self.lineMetadata(request, route: route, status: status, duration: duration, tenantReport: context.tenantReport))
        return response
    }

    /// Counts a 429 of a tenant's per-minute limits (OTP sends, logins) by the policy its `RateLimit-Policy`
    /// names. Mint refusals are counted where they are decided (the router's and the fast path's mint routes),
    /// failed-login throttling by the login service.
    private func recordLimited(_ response: Response, route: String, context: Context) {
        guard let policy = response.headers[RateLimitHeaders.policy], policy.hasPrefix("\""),
            let name = policy.dropFirst().split(separator: "\"", maxSplits: 1).first, name != TokenIssuer.mintPolicy[...]
        else { return }
        let tenantId = context.parameters.get("tenantId").flatMap { TenantRules.isValidTenantId($0) ? $0 : nil } ?? ""
        metrics.recordRateLimited(route: route, limit: String(name), tenant: tenantLabel(tenantId))
    }

    /// The access log line's own metadata; `tenant` only when a handler reported one (path tenants are already
    /// in the logger's metadata).
    static func lineMetadata(_ request: Request, route: String, status: Int, duration: Duration, tenantReport: TenantReport?) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue), "route": .string(route), "path": .string(request.uri.path),
            "status": .stringConvertible(status), "durationMs": .string(String(format: "%.3f", Double(duration.nanoseconds) / 1e6)),
        ]
        if let tenantId = tenantReport?.tenantId { metadata["tenant"] = .string(tenantId) }
        return metadata
    }

    /// The method as a metric label: the standard methods by name, anything else a client invents as "other",
    /// so that requests with random methods cannot add one time series each.
    static func methodLabel(_ method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .post, .put, .patch, .delete, .head, .options: method.rawValue
        default: "other"
        }
    }

    /// The trace id of the span the tracing middleware opened, read through the propagator (W3C `traceparent`:
    /// `00-<32 hex trace id>-<16 hex span id>-<flags>`), so no tracer type is named here.
    static func currentTraceID() -> String? {
        guard let current = ServiceContext.current else { return nil }
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(current, into: &carrier, using: DictionaryInjector())
        let parts = carrier["traceparent"]?.split(separator: "-") ?? []
        guard parts.count == 4, parts[1].utf8.count == 32 else { return nil }
        return String(parts[1])
    }

    private struct DictionaryInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

}
