import HTTPTypes
import Hummingbird
import JOSE
import NIOCore

/// An OAuth 2.0 error (RFC 6749 §5.2) as `/oauth2/*` endpoints answer.
public struct OAuthError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var error: String
    public var description: String?
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, error: String, description: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var members: [String: JSONValue] = ["error": .string(error)]
        if let description { members["error_description"] = .string(description) }
        var fields = headers
        fields[.cacheControl] = "no-store"
        fields[HTTPField.Name("Pragma")!] = "no-cache"
        return JSONResponse.make(.object(members), status: status, headers: fields)
    }
}
