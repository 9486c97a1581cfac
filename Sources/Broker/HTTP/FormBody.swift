import Foundation
import HTTPTypes
import Hummingbird
import JOSE

/// `application/x-www-form-urlencoded` bodies of the OAuth endpoints, parsed strictly:
/// a parameter sent twice is refused (RFC 6749 §3.2), as Keycloak does.
enum FormBody {
    static func parse(_ request: Request, limit: Int = 64 * 1024) async throws(OAuthFailure) -> [String: String] {
        guard let type = request.headers[.contentType]?.lowercased(), type.hasPrefix("application/x-www-form-urlencoded") else {
            throw .invalidRequest("the body must be application/x-www-form-urlencoded")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await RequestBody.collect(request, limit: limit)
        } catch {
            switch error {
            case .tooLarge: throw .bodyTooLarge
            case .malformed: throw .invalidRequest("the request body's framing is malformed")
            }
        }
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
            throw .invalidRequest("the body is not UTF-8")
        }
        var fields = [String: String]()
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else {
                throw .invalidRequest("the body is not valid form encoding")
            }
            guard fields.updateValue(value, forKey: name) == nil else {
                throw .invalidRequest("parameter \(Self.safeName(name)) is repeated")
            }
        }
        return fields
    }

    static func decode(_ part: Substring) -> String? {
        String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// A parameter name fit to appear in an error: known names only.
    static func safeName(_ name: String) -> String {
        ["grant_type", "client_id", "client_secret", "tenant", "resource", "scope", "audience", "token", "token_type_hint",
         "subject_token", "subject_token_type"].contains(name) ? name : "(unknown)"
    }

    /// HTTP Basic client credentials, each half URL-decoded (RFC 6749 §2.3.1).
    static func basicCredentials(_ request: Request) -> (id: String, secret: String)? {
        guard let header = request.headers[.authorization], header.utf8.count <= 4096, header.lowercased().hasPrefix("basic "),
            let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":"),
            let id = String(text[..<colon]).removingPercentEncoding, let secret = String(text[text.index(after: colon)...]).removingPercentEncoding
        else { return nil }
        return (id, secret)
    }
}
