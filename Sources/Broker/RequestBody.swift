import HTTPTypes
import Hummingbird
import JOSE
import TenantRegistry

/// Reads and parses JSON request bodies under the contract's limits: 413 over the limit, 400 for
/// malformed JSON, 422 for valid JSON of the wrong shape.
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

    static let malformedFraming = Problem(
        .badRequest, code: "malformed_request", detail: "the request body's framing is malformed (Content-Length or chunked encoding)")

    static func object(_ request: Request, limit: Int = defaultLimit) async throws -> [String: JSONValue] {
        let buffer: ByteBuffer
        do {
            buffer = try await collect(request, limit: limit)
        } catch .tooLarge {
            throw tooLarge(limit)
        } catch .malformed {
            throw malformedFraming
        }
        let value: JSONValue
        do {
            value = try JSONParser(maxBytes: limit, maxDepth: 32).parse(array: Array(buffer: buffer))
        } catch {
            throw Problem(.badRequest, code: "malformed_json", detail: "the body is not valid JSON (\(Self.describe(error)))")
        }
        guard case .object(let members) = value else {
            throw Problem(
                .unprocessableContent, code: "validation_failed", detail: "the body must be a JSON object",
                errors: [.init(field: "", message: "must be a JSON object")])
        }
        return members
    }

    static func tooLarge(_ limit: Int) -> Problem {
        Problem(.contentTooLarge, code: "payload_too_large", detail: "the body exceeds \(limit / 1024) KiB")
    }

    static func describe(_ error: JSONParser.Failure) -> String {
        switch error {
        case .tooLarge: return "too large"
        case .tooDeep: return "nested too deeply"
        case .duplicateKey: return "duplicate key"
        case .invalid(let offset): return "syntax error at byte \(offset)"
        }
    }
}

extension ValidationFailure {
    var problem: Problem {
        Problem(
            .unprocessableContent, code: code,
            detail: code == "field_not_updatable" ? "these fields cannot be changed" : "the request breaks \(errors.count) rule(s)",
            errors: errors.map { Problem.FieldError(field: $0.field, message: $0.message) })
    }
}

extension StoreError {
    var problem: Problem {
        switch self {
        case .conflict(let what):
            return Problem(.conflict, code: "tenant_exists", detail: "a tenant with this \(what == "domain" ? "domain" : "tenantId") exists")
        case .notFound: return Policy.tenantNotFound
        case .versionMismatch:
            return Problem(.preconditionFailed, code: "precondition_failed", detail: "the tenant changed since the ETag in If-Match")
        case .unavailable:
            return Problem(.serviceUnavailable, code: "store_unavailable", detail: "the registry store cannot be reached; nothing was written")
        case .corrupt: return Problem.internalError
        case .lastAdminKey:
            return Problem(
                .conflict, code: "last_admin_key",
                detail: "this is the last active admin API key; create another admin key first (token-broker api-keys revoke can still revoke it)")
        }
    }
}

/// Maps errors from the registry to problems; anything else propagates.
func asProblem(_ error: any Error) -> any Error {
    if let failure = error as? ValidationFailure { return failure.problem }
    if let storeError = error as? StoreError { return storeError.problem }
    return error
}

extension Request {
    /// A query parameter that must be a whole number in `range`; 422 otherwise.
    func integer(_ name: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = uri.queryParameters[Substring(name)] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw Problem(
                .unprocessableContent, code: "validation_failed", detail: "query parameter \(name) is out of range",
                errors: [.init(field: name, message: "must be a whole number from \(range.lowerBound) to \(range.upperBound)")])
        }
        return number
    }
}
