import HTTPTypes
import Hummingbird
import JOSE
import NIOCore

/// An OAuth 2.0 error (RFC 6749 §5.2) as `/oauth2/*` endpoints answer.
public struct OAuthError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var error: String
    public var description: String?

    public init(_ status: HTTPResponse.Status, error: String, description: String? = nil) {
        self.status = status
        self.error = error
        self.description = description
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var members: [String: JSONValue] = ["error": .string(error)]
        if let description { members["error_description"] = .string(description) }
        return JSONResponse.make(.object(members), status: status, headers: [.cacheControl: "no-store", HTTPField.Name("Pragma")!: "no-cache"])
    }
}
