/// The tenant's identity realm.
public struct KeycloakSettings: Sendable, Equatable {
    public var realm: String
    public var clientId: String
    public var clientSecret: String?
    public var issuer: String?
    public var otpManagerURL: String?
}
