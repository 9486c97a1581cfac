/// A token whose signature verified: its header, its claims, and the key that verified it.
public struct VerifiedJWT: Sendable {
    let protectedHeader: JWS.Header
    public let claims: JWTClaims
    public let key: JWSPublicKey

    /// The protected header (built on access; verification reads the members directly).
    public var header: [String: JSONValue] { Dictionary(uniqueKeysWithValues: protectedHeader.members) }
    /// The header's `typ`, if it is a string.
    public var type: String? { protectedHeader.type }
}
