/// JWS compact serialization (RFC 7515) for JWTs: signing with a ring key, verifying against a key set.
///
/// Verification binds the algorithm to the key: the token's `alg` must equal the algorithm of the key
/// its `kid` names. There is no fallback key, no `none`, no HMAC, and no key taken from the token.
public enum JWS {
    /// Tokens longer than this are refused before any decoding.
    public static let defaultMaxTokenBytes = 16 * 1024

    /// Header parameters that would let a token pick its own key or change processing rules.
    public static let forbiddenHeaderParameters: Set<String> = ["crit", "jku", "x5u", "jwk", "x5c", "b64", "zip", "enc"]

    private static let parser = JSONParser(maxBytes: defaultMaxTokenBytes, maxDepth: 16)

    /// Signs `claims` with `key`; the header is `{"alg","typ","kid"}` in that order.
    public static func sign(claims: [String: JSONValue], key: JWSPrivateKey, type: String? = "JWT") throws(JOSEError) -> String {
        try sign(payload: JSONValue.object(claims).serialized(), key: key, type: type)
    }

    /// Signs an arbitrary payload with `key`.
    public static func sign(payload: [UInt8], key: JWSPrivateKey, type: String? = "JWT") throws(JOSEError) -> String {
        var header = [UInt8]()
        header.append(contentsOf: "{\"alg\":".utf8)
        JSONValue.writeString(key.algorithm.rawValue, into: &header)
        if let type {
            header.append(contentsOf: ",\"typ\":".utf8)
            JSONValue.writeString(type, into: &header)
        }
        header.append(contentsOf: ",\"kid\":".utf8)
        JSONValue.writeString(key.kid, into: &header)
        header.append(UInt8(ascii: "}"))
        var signingInput = [UInt8]()
        signingInput.reserveCapacity((header.count + payload.count) * 4 / 3 + 400)
        Base64URL.append(header, to: &signingInput)
        signingInput.append(UInt8(ascii: "."))
        Base64URL.append(payload, to: &signingInput)
        let signature = try key.sign(signingInput)
        signingInput.append(UInt8(ascii: "."))
        Base64URL.append(signature, to: &signingInput)
        return String(decoding: signingInput, as: UTF8.self)
    }

    /// The protected header of a token, parsed without verifying anything. For diagnostics only.
    public static func unverifiedHeader(_ token: String) throws(JOSEError) -> [String: JSONValue] {
        let parts = try split(token)
        return try decodeObject(parts.header, part: "header")
    }

    /// The payload of a token, parsed without verifying anything. For diagnostics only.
    public static func unverifiedClaims(_ token: String) throws(JOSEError) -> [String: JSONValue] {
        let parts = try split(token)
        return try decodeObject(parts.payload, part: "payload")
    }

    /// Verifies a compact JWT with the key `lookup` returns for its `kid` (a kid is required) and parses its claims.
    public static func verify(
        _ token: String, maxBytes: Int = defaultMaxTokenBytes, key lookup: (String) -> JWSPublicKey?
    ) throws(JOSEError) -> VerifiedJWT {
        let jws = try verifySignature(token, maxBytes: maxBytes) { (kid) throws(JOSEError) -> JWSPublicKey in
            guard let kid else { throw .missingKeyID }
            guard let key = lookup(kid) else { throw .unknownKeyID }
            return key
        }
        return VerifiedJWT(header: jws.header, claims: try decodeObject(jws.payloadPart, part: "payload"), key: jws.key)
    }

    /// Verifies a compact JWT with one known key; a `kid` in the header, if any, must be that key's.
    public static func verify(_ token: String, using key: JWSPublicKey, maxBytes: Int = defaultMaxTokenBytes) throws(JOSEError) -> VerifiedJWT {
        let jws = try verifySignature(token, using: key, maxBytes: maxBytes)
        return VerifiedJWT(header: jws.header, claims: try decodeObject(jws.payloadPart, part: "payload"), key: jws.key)
    }

    /// Verifies a compact JWS with any payload against one known key and returns the payload bytes.
    public static func verifySignature(_ token: String, using key: JWSPublicKey, maxBytes: Int = defaultMaxTokenBytes) throws(JOSEError) -> VerifiedJWS {
        try verifySignature(token, maxBytes: maxBytes) { (kid) throws(JOSEError) -> JWSPublicKey in
            if let kid, kid != key.kid { throw .unknownKeyID }
            return key
        }
    }

    /// The shared verification path: size, structure, header policy, key selection, alg binding, signature.
    /// Nothing in the payload is parsed before the signature has verified.
    static func verifySignature(
        _ token: String, maxBytes: Int, select: (String?) throws(JOSEError) -> JWSPublicKey
    ) throws(JOSEError) -> VerifiedJWS {
        guard token.utf8.count <= maxBytes else { throw .tokenTooLarge }
        let parts = try split(token)
        let header = try decodeObject(parts.header, part: "header")
        guard let alg = header["alg"]?.stringValue else { throw .malformed("header has no alg") }
        guard JWSAlgorithm(jose: alg) != nil else { throw .algorithmNotAllowed(alg) }
        for name in forbiddenHeaderParameters where header[name] != nil { throw .headerNotAllowed(name) }
        var kid: String?
        if let kidValue = header["kid"] {
            guard let string = kidValue.stringValue else { throw .malformed("kid is not a string") }
            kid = string
        }
        let key = try select(kid)
        guard key.algorithm.rawValue == alg else { throw .algorithmMismatch }
        guard let signature = Base64URL.decode(bytes: parts.signature) else { throw .invalidBase64URL("signature") }
        let signingInputLength = parts.header.count + 1 + parts.payload.count
        var token = token
        let valid = token.withUTF8 { buffer in
            key.verify(signature: signature, over: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[..<signingInputLength])))
        }
        guard valid else { throw .invalidSignature }
        return VerifiedJWS(header: header, payloadPart: parts.payload, key: key)
    }

    private struct Parts {
        var header: ArraySlice<UInt8>
        var payload: ArraySlice<UInt8>
        var signature: ArraySlice<UInt8>
    }

    private static func split(_ token: String) throws(JOSEError) -> Parts {
        guard token.utf8.count <= defaultMaxTokenBytes * 4 else { throw .tokenTooLarge }
        let bytes = Array(token.utf8)
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("a JWS has exactly three parts") }
        guard !parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else { throw .malformed("empty part") }
        return Parts(header: parts[0], payload: parts[1], signature: parts[2])
    }

    static func decodeObject(_ part: ArraySlice<UInt8>, part name: String) throws(JOSEError) -> [String: JSONValue] {
        guard let bytes = Base64URL.decode(bytes: part) else { throw .invalidBase64URL(name) }
        do throws(JSONParser.Failure) {
            return try parser.parseObject(array: bytes)
        } catch {
            throw .invalidJSON(name)
        }
    }
}

/// A JWS whose signature verified, with its payload still encoded.
public struct VerifiedJWS: Sendable {
    public let header: [String: JSONValue]
    let payloadPart: ArraySlice<UInt8>
    public let key: JWSPublicKey

    /// The decoded payload bytes.
    public func payload() throws(JOSEError) -> [UInt8] {
        guard let bytes = Base64URL.decode(bytes: payloadPart) else { throw .invalidBase64URL("payload") }
        return bytes
    }
}

/// A token whose signature verified: its header, its claims, and the key that verified it.
public struct VerifiedJWT: Sendable {
    public let header: [String: JSONValue]
    public let claims: [String: JSONValue]
    public let key: JWSPublicKey
}
