import HTTPTypes
import Hummingbird
import JOSE
import TenantRegistry

/// Reads and parses JSON request bodies under the contract's limits: 413 over the limit, 400 for
/// malformed JSON or framing, 422 for valid JSON of the wrong shape.
enum RequestBody {
    static let defaultLimit = 64 * 1024
    static let tenantLimit = 1024 * 1024

    /// Why a body could not be read: the client sent more than the limit, or framing that does not parse
    /// (a bad chunk size, a chunk longer than it said, a connection closed inside a chunk).
    enum ReadFailure: Error {
        case tooLarge
        case malformed
    }

    /// The whole body, at most `limit` bytes. Every way reading can fail is a client's doing and maps to 413 or
    /// 400 (never 500): the HTTP decoder's framing errors surface here, as errors of the body stream.
    static func collect(_ request: Request, limit: Int) async throws(ReadFailure) -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { throw .tooLarge }
        do {
            return try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw .tooLarge
        } catch {
            throw .malformed
        }
    }

    /// The body's bytes (empty when there is none), at most `limit`; the problem for a body over it or badly framed.
    static func bytes(_ request: Request, limit: Int = defaultLimit) async throws(APIError) -> [UInt8] {
        do {
            return Array(buffer: try await collect(request, limit: limit))
        } catch {
            switch error {
            case .tooLarge: throw .payloadTooLarge(limit: limit)
            case .malformed: throw .malformedFraming
            }
        }
    }

    /// The body as a JSON object.
    static func object(_ request: Request, limit: Int = defaultLimit) async throws(APIError) -> [String: JSONValue] {
        try object(bytes: try await bytes(request, limit: limit), limit: limit, maxDepth: 32)
    }

    /// `bytes` as a JSON object: 400 when it is not JSON, 422 when it is JSON but not an object.
    static func object(bytes: [UInt8], limit: Int = defaultLimit, maxDepth: Int) throws(APIError) -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONParser(maxBytes: limit, maxDepth: maxDepth).parse(array: bytes)
        } catch {
            throw .malformedJSON(error)
        }
        guard case .object(let members) = value else {
            throw .invalid(detail: "the body must be a JSON object", [FieldError("", "must be a JSON object")])
        }
        return members
    }
}
