/// A client registered at an OpenID provider: its id and, for confidential clients, its secret.
public struct OIDCClientCredentials: Sendable {
    public let clientId: String
    public let clientSecret: String?

    public init(clientId: String, clientSecret: String?) {
        self.clientId = clientId
        self.clientSecret = clientSecret
    }
}
