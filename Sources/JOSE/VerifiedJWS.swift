/// A JWS whose signature verified, with its payload still encoded.
public struct VerifiedJWS: Sendable {
    let protectedHeader: JWS.Header
    /// The protected header (built on access; verification reads the members directly).
    public var header: [String: JSONValue] { Dictionary(uniqueKeysWithValues: protectedHeader.members) }
    /// The header's `typ`, if it is a string.
    public var type: String? { protectedHeader.type }
    /// The verified token and the byte range of its (still encoded) payload.
    let token: String
    let payloadRange: Range<Int>
    public let key: JWSPublicKey

    /// The decoded payload bytes.
    public func payload() throws(JOSEError) -> [UInt8] {
        var token = token
        let bytes = token.withUTF8 { Base64URL.decode(buffer: UnsafeBufferPointer(rebasing: $0[payloadRange])) }
        guard let bytes else { throw .invalidBase64URL("payload") }
        return bytes
    }
}
