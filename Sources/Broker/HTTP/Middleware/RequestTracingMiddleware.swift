import HTTPTypes
import Hummingbird
import Tracing

/// One server span per request when `--tracing-endpoint` is set (outermost middleware). It continues the
/// caller's trace from `traceparent` and is named after the matched route (`/v1/tenants/{tenantId}/token`).
///
/// Hummingbird's own `TracingMiddleware` records the raw query (a deny-list can only redact names it knows,
/// and misses `Access_Token`, `access%5Ftoken` or a bare token), the `User-Agent` and the client's address.
/// This one records only the method, route, path, status and the query parameters the API defines (an
/// allow-list); every other part of the query, name and value, appears as `REDACTED` (a name can be the
/// secret: `?eyJhbGci...`). No header, address or body is ever recorded.
struct RequestTracingMiddleware: RouterMiddleware {
    typealias Context = BrokerRequestContext

    /// Every query parameter the broker reads; nothing else a client sends reaches a span with its value.
    static let recordedQueryParameters: Set<Substring> = ["tenant", "tenantId", "audience", "status", "cursor", "since", "limit", "months", "days"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var parent = ServiceContext.current ?? .topLevel
        InstrumentationSystem.instrument.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        let span = startSpan("HTTP \(request.method.rawValue)", context: parent, ofKind: .server)
        defer { span.end() }
        if span.isRecording {
            span.updateAttributes { attributes in
                attributes["http.request.method"] = request.method.rawValue
                attributes["url.path"] = request.uri.path
                if let query = request.uri.query, !query.isEmpty { attributes["url.query"] = Self.recordedQuery(query) }
            }
        }
        do {
            let response = try await ServiceContext.$current.withValue(span.context) { try await next(request, context) }
            finish(span, route: context.endpointPath, status: Int(response.status.code))
            return response
        } catch {
            let status = (error as? any HTTPResponseError).map { Int($0.status.code) } ?? 500
            finish(span, route: context.endpointPath, status: status)
            throw error
        }
    }

    private func finish(_ span: any Span, route: String?, status: Int) {
        if let route { span.operationName = route }
        span.updateAttributes { attributes in
            attributes["http.route"] = route
            attributes["http.response.status_code"] = status
        }
        if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
    }

    /// The query with every part whose name is not in `recordedQueryParameters` replaced by `REDACTED`.
    /// Names are compared as sent (not percent-decoded): an encoded or differently cased name is redacted.
    static func recordedQuery(_ query: String) -> String {
        query.split(separator: "&", omittingEmptySubsequences: false).map { part in
            guard let equals = part.firstIndex(of: "="), recordedQueryParameters.contains(part[..<equals]) else { return "REDACTED" }
            return String(part)
        }.joined(separator: "&")
    }
}

private struct HTTPFieldsExtractor: Extractor {
    func extract(key name: String, from headers: HTTPFields) -> String? {
        HTTPField.Name(name).flatMap { headers[$0] }
    }
}
