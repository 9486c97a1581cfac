import AsyncHTTPClient
import NIOCore
import Tracing

extension HTTPClient {
    /// `execute`, inside a client span named after the operation ("OIDC token", "OTP Manager verify"), so a trace
    /// reads as what the broker asked for. AsyncHTTPClient adds its own HTTP span under it and sends the trace on
    /// in `traceparent` (its tracer is the one bootstrapped when the client was made; without a tracing backend
    /// all of this is a no-op). Only the status is recorded here: never the query, headers or body.
    public func tracedExecute(
        _ request: HTTPClientRequest, timeout: TimeAmount, operation: String
    ) async throws -> HTTPClientResponse {
        try await withSpan(operation, ofKind: .client) { span in
            let response = try await execute(request, timeout: timeout)
            span.attributes["http.response.status_code"] = Int(response.status.code)
            if response.status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
            return response
        }
    }
}
