import Foundation
import JOSE

/// A successful token response, reduced to the members the broker passes on. Fields the provider left
/// out stay out.
public struct OIDCTokenResponse: Sendable {
    public let accessToken: String
    public let expiresIn: Int64
    public let refreshToken: String?
    public let refreshExpiresIn: Int64?
    public let idToken: String?
    public let scope: String?

    /// The response as the broker answers it: `token_type` is always `Bearer`.
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "access_token": .string(accessToken), "expires_in": .int(expiresIn), "token_type": .string("Bearer"),
        ]
        if let refreshToken { members["refresh_token"] = .string(refreshToken) }
        if let refreshExpiresIn { members["refresh_expires_in"] = .int(refreshExpiresIn) }
        if let idToken { members["id_token"] = .string(idToken) }
        if let scope { members["scope"] = .string(scope) }
        return .object(members)
    }
}
