import HTTPTypes
import Hummingbird
import JOSE
import NIOCore
import TenantRegistry

/// An RFC 9457 problem (`application/problem+json`) as every `/v1` error is answered.
/// `detail` is written for the client and must never contain secrets, tokens or upstream bodies.
/// Built only by `ErrorMapping`, which maps each failure to its status and code.
public struct Problem: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var title: String
    public var detail: String?
    public var errors: [FieldError]
    public var headers: HTTPFields
    /// Extension members (RFC 9457 §3.2), e.g. `attemptsRemaining`.
    public var extra: [String: JSONValue] = [:]

    public init(
        _ status: HTTPResponse.Status, code: String, title: String? = nil, detail: String? = nil, errors: [FieldError] = [],
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.title = title ?? status.reasonPhrase
        self.detail = detail
        self.errors = errors
        self.headers = headers
    }

    /// The problem body as JSON.
    public var body: JSONValue {
        var members: [String: JSONValue] = [
            "type": .string("urn:token-broker:problem:\(code)"), "title": .string(title), "status": .int(Int64(status.code)),
            "code": .string(code),
        ]
        for (name, value) in extra { members[name] = value }
        if let detail { members["detail"] = .string(detail) }
        if !errors.isEmpty {
            members["errors"] = .array(errors.map { .object(["field": .string($0.field), "message": .string($0.message)]) })
        }
        return .object(members)
    }

    /// The answer's headers before the server's `Content-Length`: the problem's own, the type, no caching.
    var answerFields: HTTPFields {
        var fields = headers
        fields[.contentType] = "application/problem+json"
        fields[.cacheControl] = "no-store"
        return fields
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: answerFields, body: .init(byteBuffer: ByteBuffer(bytes: body.serialized())))
    }
}
