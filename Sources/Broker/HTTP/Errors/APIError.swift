import JOSE
import TenantRegistry

/// Failures of the HTTP layer itself (bodies, query parameters, unknown resources); mapped in `ErrorMapping`.
enum APIError: Error, Sendable {
    case notFound
    case methodNotAllowed
    /// Something failed on the broker's side; the body says only "see the log".
    case internalError
    /// Content-Length or chunked framing that does not parse.
    case malformedFraming
    case malformedJSON(JSONParser.Failure)
    case payloadTooLarge(limit: Int)
    /// Valid JSON or query parameters of the wrong shape: `detail` (nil: "the request breaks N rule(s)") and every bad field.
    case invalid(detail: String? = nil, [FieldError])
    case apiKeyNotFound
}
