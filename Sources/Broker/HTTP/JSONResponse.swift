import HTTPTypes
import Hummingbird
import JOSE
import NIOCore

/// Builds JSON responses from `JSONValue` without going through Codable.
enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        make(bytes: value.serialized(), status: status, headers: headers)
    }

    static func make(bytes: [UInt8], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:], contentType: String = "application/json")
        -> Response
    {
        Response(status: status, headers: fields(headers, contentType: contentType), body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The headers of every answer that carries a token (RFC 6749 §5.1): never cached.
    static let tokenHeaders: HTTPFields = [.cacheControl: "no-store", HTTPField.Name("Pragma")!: "no-cache"]

    /// A JSON response's headers: `headers` and the content type (the server adds `Content-Length`).
    static func fields(_ headers: HTTPFields, contentType: String = "application/json") -> HTTPFields {
        var fields = headers
        fields[.contentType] = contentType
        return fields
    }
}
