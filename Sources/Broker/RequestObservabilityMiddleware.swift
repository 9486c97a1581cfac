import HTTPTypes
import Hummingbird
import JOSE
import Logging
import Synchronization
import TenantRegistry
import Tracing

/// Outermost middleware: assigns the request id, turns every error into the contract's error shape,
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
    /// Refusals are logged at debug each and summed up at info.
    var refusals = RefusalLog()

    static let requestIDHeader = HTTPField.Name("X-Request-Id")!
    /// The route whose handler reports its tenant through `BrokerRequestContext.tenantReport`.
    static let forwardAuthRoute = "/v1/verify"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestId = Self.acceptedRequestID(request.headers.value(of: Self.requestIDHeader)) ?? Self.newRequestID()
        context.requestId = requestId
        context.logger[metadataKey: "requestId"] = .string(requestId)
        context.logger[metadataKey: "hb.request.id"] = nil
        if tracing, let traceId = Self.currentTraceID() { context.logger[metadataKey: "traceId"] = .string(traceId) }
        if let tenantId = context.parameters.get("tenantId") {
            // Only a well-formed id: a hostile path segment stays in `path`, where it is already logged as sent.
            if TenantRules.isValidTenantId(tenantId) { context.logger[metadataKey: "tenant"] = .string(tenantId) }
        } else if context.endpointPath == Self.forwardAuthRoute {
            context.tenantReport = TenantReport()
        }
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try Self.translate(error, request: request, context: context)
        } catch let error where asProblem(error) is Problem {
            // Registry errors (validation, store) map to their problem in one place, whatever route threw them.
            response = try (asProblem(error) as! Problem).response(from: request, context: context)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            response = try Problem.internalError.response(from: request, context: context)
        }
        // Appended: no handler sets X-Request-Id, and assignment would search the fields first.
        response.headers.append(HTTPField(name: Self.requestIDHeader, value: requestId))
        let duration = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        let status = Int(response.status.code)
        metrics.recordRequest(route: route, method: Self.methodLabel(request.method), status: status, duration: duration)
        let refused = RefusalLog.isRefusal(status: status, route: route)
        if refused { refusals.record(context.logger) }
        let level: Logger.Level = status >= 500 ? .error : status >= 400 && !refused ? .info : .debug
        // An autoclosure: at the usual level (info) a 2xx line is dropped before its metadata is built.
        context.logger.log(
            level: level, "request",
            metadata: Self.lineMetadata(request, route: route, status: status, duration: duration, tenantReport: context.tenantReport))
        return response
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

    /// Hummingbird's own errors (404 from the router, 413 from body limits, 405) become problems with a code.
    static func translate(_ error: any HTTPResponseError, request: Request, context: Context) throws -> Response {
        if error is Problem || error is OAuthError { return try error.response(from: request, context: context) }
        let code: String
        switch error.status {
        case .notFound: code = "not_found"
        case .methodNotAllowed: code = "method_not_allowed"
        case .contentTooLarge: code = "payload_too_large"
        case .badRequest: code = "malformed_request"
        case .unsupportedMediaType: code = "unsupported_media_type"
        default: code = error.status.code >= 500 ? "internal_error" : "request_error"
        }
        if error.status.code >= 500 {
            context.logger.error("server error", metadata: ["status": .stringConvertible(error.status.code)])
        }
        return try Problem(error.status, code: code).response(from: request, context: context)
    }

    /// The method as a metric label: the standard methods by name, anything else a client invents as "other",
    /// so that requests with random methods cannot add one time series each.
    static func methodLabel(_ method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .post, .put, .patch, .delete, .head, .options: method.rawValue
        default: "other"
        }
    }

    /// A client-supplied id is reused only when it is short and plain, so it cannot inject into logs or headers.
    static func acceptedRequestID(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.utf8.count),
            value.utf8.allSatisfy({ byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D
                    || byte == 0x5F || byte == 0x2E || byte == 0x3A
            })
        else { return nil }
        return value
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

    static func newRequestID() -> String { RequestIDs.next() }
}

/// Request ids. They are not secrets (they are echoed to clients and written to logs and the audit trail),
/// but they must be unique, and should not tell a client how many requests the broker has served. Drawing 12
/// bytes from OpenSSL's CSPRNG per request cost about 2 µs, 4 % of a cached verification's CPU, so:
/// 4 random bytes drawn once per process, then 8 bytes that are a counter put through a bijective mix keyed
/// with process-random constants. Ids never repeat within a process (the mix is a permutation of the
/// counter), and two processes share ids only if their 32-bit prefixes collide. 16 base64url characters.
enum RequestIDs {
    private static let counter = Atomic<UInt64>(0)
    private static let keys: (prefix: UInt32, xor: UInt64, m1: UInt64, m2: UInt64) = {
        let bytes = Crypto.randomBytes(28)
        func word(_ at: Int) -> UInt64 { bytes[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        let prefix = bytes[24..<28].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        // Odd multipliers: multiplication by an odd number is invertible modulo 2^64.
        return (prefix, word(0), word(8) | 1, word(16) | 1)
    }()

    static func next() -> String {
        let keys = keys
        var x = counter.wrappingAdd(1, ordering: .relaxed).newValue ^ keys.xor
        // Each step (xor with a right shift, multiplication by an odd constant) is a bijection on UInt64.
        x ^= x >> 31
        x &*= keys.m1
        x ^= x >> 29
        x &*= keys.m2
        x ^= x >> 32
        var bytes = [UInt8](repeating: 0, count: 12)
        for index in 0..<4 { bytes[index] = UInt8(truncatingIfNeeded: keys.prefix >> (24 - 8 * UInt32(index))) }
        for index in 0..<8 { bytes[4 + index] = UInt8(truncatingIfNeeded: x >> (56 - 8 * UInt64(index))) }
        return Base64URL.encode(bytes)
    }
}
