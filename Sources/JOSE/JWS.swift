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
        var payload = ByteWriter(capacity: 1024)
        JSONValue.object(claims).write(to: &payload)
        return try payload.withBytes { signCompact(payload: $0, key: key, type: type) }.get()
    }

    /// Signs the object `claims` holds (closing it) with `key`, without copying it out first.
    public static func sign(claims: consuming JSONObjectWriter, key: JWSPrivateKey, type: String? = "JWT") throws(JOSEError) -> String {
        try claims.finish { signCompact(payload: $0, key: key, type: type) }.get()
    }

    /// Signs an arbitrary payload with `key`.
    public static func sign(payload: [UInt8], key: JWSPrivateKey, type: String? = "JWT") throws(JOSEError) -> String {
        try payload.withUnsafeBufferPointer { payload in
            signCompact(payload: payload, key: key, type: type)
        }.get()
    }

    /// Builds `header.payload.signature` directly in the result String's storage: the signing input is
    /// encoded in place, signed from there, and the signature encoded after it (one allocation).
    static func signCompact(payload: UnsafeBufferPointer<UInt8>, key: JWSPrivateKey, type: String?) -> Result<String, JOSEError> {
        var header = ByteWriter(capacity: 256)
        header.append("{\"alg\":")
        JSONValue.writeString(key.algorithm.rawValue, to: &header)
        if let type {
            header.append(",\"typ\":")
            JSONValue.writeString(type, to: &header)
        }
        header.append(",\"kid\":")
        JSONValue.writeString(key.kid, to: &header)
        header.append(UInt8(ascii: "}"))
        let headerLength = Base64URL.encodedCount(header.count)
        let inputLength = headerLength + 1 + Base64URL.encodedCount(payload.count)
        let total = inputLength + 1 + Base64URL.encodedCount(key.signatureLength)
        var failure: JOSEError?
        let token = String(unsafeUninitializedCapacity: total) { out -> Int in
            let base = out.baseAddress!
            _ = header.withBytes { Base64URL.encode($0, into: base) }
            base[headerLength] = UInt8(ascii: ".")
            Base64URL.encode(payload, into: base + headerLength + 1)
            base[inputLength] = UInt8(ascii: ".")
            let signed = key.signRaw(UnsafeRawBufferPointer(start: base, count: inputLength)) { signature in
                Base64URL.encode(signature, into: base + inputLength + 1)
            }
            switch signed {
            case .success(let length): return inputLength + 1 + length
            case .failure(let error):
                failure = error
                return 0
            }
        }
        if let failure { return .failure(failure) }
        return .success(token)
    }

    /// The protected header of a token, parsed without verifying anything. For diagnostics only.
    public static func unverifiedHeader(_ token: String) throws(JOSEError) -> [String: JSONValue] {
        let (token, parts) = try split(token)
        var bytes = token
        return try bytes.withUTF8 { decodeObject(UnsafeBufferPointer(rebasing: $0[parts.header]), part: "header") }.get()
    }

    /// The payload of a token, parsed without verifying anything. For diagnostics only.
    public static func unverifiedClaims(_ token: String) throws(JOSEError) -> [String: JSONValue] {
        let (token, parts) = try split(token)
        var bytes = token
        return try bytes.withUTF8 { decodeObject(UnsafeBufferPointer(rebasing: $0[parts.payload]), part: "payload") }.get()
    }

    /// The payload of a token as `JWTClaims`, without verifying anything: checked as `unverifiedClaims` checks
    /// it, each claim parsed only when read. For routing a token (which issuer?) before it is verified.
    public static func unverifiedJWTClaims(_ token: String) throws(JOSEError) -> JWTClaims {
        let (token, parts) = try split(token)
        var bytes = token
        return try bytes.withUTF8 { decodeClaims(UnsafeBufferPointer(rebasing: $0[parts.payload])) }.get()
    }

    /// Verifies a compact JWT with the key `lookup` returns for its `kid` (a kid is required) and parses its claims.
    public static func verify(
        _ token: String, maxBytes: Int = defaultMaxTokenBytes, key lookup: (String) -> JWSPublicKey?
    ) throws(JOSEError) -> VerifiedJWT {
        try verifyClaims(token, maxBytes: maxBytes) { (kid) throws(JOSEError) -> JWSPublicKey in
            guard let kid else { throw .missingKeyID }
            guard let key = lookup(kid) else { throw .unknownKeyID }
            return key
        }
    }

    /// Verifies a compact JWT with one known key; a `kid` in the header, if any, must be that key's.
    public static func verify(_ token: String, using key: JWSPublicKey, maxBytes: Int = defaultMaxTokenBytes) throws(JOSEError) -> VerifiedJWT {
        try verifyClaims(token, maxBytes: maxBytes) { (kid) throws(JOSEError) -> JWSPublicKey in
            if let kid, kid != key.kid { throw .unknownKeyID }
            return key
        }
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
        var bytes = token
        let checked = bytes.withUTF8 { buffer in
            checkSignature(buffer, select: select)
        }
        let (header, parts, key) = try checked.get()
        return VerifiedJWS(protectedHeader: header, token: token, payloadRange: parts.payload, key: key)
    }

    /// `verifySignature` followed, only once the signature has verified, by the claims parse,
    /// all on the token's own UTF-8 storage.
    static func verifyClaims(
        _ token: String, maxBytes: Int, select: (String?) throws(JOSEError) -> JWSPublicKey
    ) throws(JOSEError) -> VerifiedJWT {
        guard token.utf8.count <= maxBytes else { throw .tokenTooLarge }
        var bytes = token
        let result = bytes.withUTF8 { buffer -> Result<VerifiedJWT, JOSEError> in
            let (header, parts, key): (Header, Parts, JWSPublicKey)
            switch checkSignature(buffer, select: select) {
            case .success(let checked): (header, parts, key) = checked
            case .failure(let error): return .failure(error)
            }
            let payload = UnsafeBufferPointer(rebasing: buffer[parts.payload])
            return decodeClaims(payload).map { VerifiedJWT(protectedHeader: header, claims: $0, key: key) }
        }
        return try result.get()
    }

    /// Byte offsets of the three parts in the token.
    struct Parts {
        var header: Range<Int>
        var payload: Range<Int>
        var signature: Range<Int>
    }

    /// Everything up to and including the signature check, on the token's bytes. The payload is not touched.
    private static func checkSignature(
        _ buffer: UnsafeBufferPointer<UInt8>, select: (String?) throws(JOSEError) -> JWSPublicKey
    ) -> Result<(Header, Parts, JWSPublicKey), JOSEError> {
        do throws(JOSEError) {
            let parts = try split(buffer)
            let members = try decodeMembers(UnsafeBufferPointer(rebasing: buffer[parts.header]), part: "header").get()
            // One pass over the members (no dictionary, no hashing), then the checks in a fixed order.
            var algValue: JSONValue?, kidValue: JSONValue?, typValue: JSONValue?
            var forbidden: String?
            for (name, value) in members {
                switch name {
                case "alg": algValue = value
                case "kid": kidValue = value
                case "typ": typValue = value
                default: if forbidden == nil, isForbiddenHeaderParameter(name) { forbidden = name }
                }
            }
            guard let alg = algValue?.stringValue else { throw .malformed("header has no alg") }
            guard JWSAlgorithm(jose: alg) != nil else { throw .algorithmNotAllowed(alg) }
            if let forbidden { throw .headerNotAllowed(forbidden) }
            var kid: String?
            if let kidValue {
                guard let string = kidValue.stringValue else { throw .malformed("kid is not a string") }
                kid = string
            }
            let header = Header(members: members, type: typValue?.stringValue)
            let key = try select(kid)
            guard key.algorithm.rawValue == alg else { throw .algorithmMismatch }
            let encoded = UnsafeBufferPointer(rebasing: buffer[parts.signature])
            guard let signatureLength = Base64URL.decodedCount(encoded.count) else { throw .invalidBase64URL("signature") }
            let valid = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(signatureLength, 1)) { storage -> Bool? in
                guard Base64URL.decode(encoded, into: storage.baseAddress!) else { return nil }
                let signature = UnsafeBufferPointer(start: storage.baseAddress!, count: signatureLength)
                let input = UnsafeRawBufferPointer(start: buffer.baseAddress, count: parts.payload.upperBound)
                return key.verify(signature: signature, over: input)
            }
            guard let valid else { throw .invalidBase64URL("signature") }
            guard valid else { throw .invalidSignature }
            return .success((header, parts, key))
        } catch {
            return .failure(error)
        }
    }

    private static func split(_ token: String) throws(JOSEError) -> (String, Parts) {
        var bytes = token
        let parts = bytes.withUTF8 { buffer in Result { () throws(JOSEError) in try split(buffer) } }
        return (bytes, try parts.get())
    }

    /// Finds the two dots; exactly three non-empty parts.
    private static func split(_ buffer: UnsafeBufferPointer<UInt8>) throws(JOSEError) -> Parts {
        guard buffer.count <= defaultMaxTokenBytes * 4 else { throw .tokenTooLarge }
        guard let base = buffer.baseAddress else { throw .malformed("a JWS has exactly three parts") }
        // Scans eight bytes per step for a '.'; three dots in all would be one too many.
        func dot(after start: Int) -> Int? {
            let count = buffer.count
            let raw = UnsafeRawPointer(base)
            var index = start
            while index + 8 <= count {
                let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ 0x2E2E_2E2E_2E2E_2E2E
                // Non-zero exactly when some byte of `word` is zero, i.e. some byte was '.'.
                if (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080 != 0 { break }
                index += 8
            }
            while index < count {
                if base[index] == UInt8(ascii: ".") { return index }
                index += 1
            }
            return nil
        }
        var dots = (-1, -1)
        var found = 0
        if let first = dot(after: 0) {
            dots.0 = first
            found = 1
            if let second = dot(after: first + 1) {
                dots.1 = second
                found = 2
                if dot(after: second + 1) != nil { throw .malformed("a JWS has exactly three parts") }
            }
        }
        guard found == 2 else { throw .malformed("a JWS has exactly three parts") }
        let parts = Parts(header: 0..<dots.0, payload: (dots.0 + 1)..<dots.1, signature: (dots.1 + 1)..<buffer.count)
        guard !parts.header.isEmpty, !parts.payload.isEmpty, !parts.signature.isEmpty else { throw .malformed("empty part") }
        return parts
    }

    /// A verified token's protected header: its members in token order (unique names) and its `typ`.
    struct Header: Sendable {
        let members: [(key: String, value: JSONValue)]
        let type: String?
    }

    /// `forbiddenHeaderParameters.contains(name)` without hashing: every forbidden name is 3 or 4 bytes.
    @inline(__always)
    static func isForbiddenHeaderParameter(_ name: String) -> Bool {
        switch name {
        case "crit", "jku", "x5u", "jwk", "x5c", "b64", "zip", "enc": true
        default: false
        }
    }

    /// Base64url-decodes one part into temporary storage and parses it as a JSON object's members.
    static func decodeMembers(_ part: UnsafeBufferPointer<UInt8>, part name: String) -> Result<[(key: String, value: JSONValue)], JOSEError> {
        decode(part, part: name) { (bytes) throws(JSONParser.Failure) in try parser.parseMembers(buffer: bytes) }
    }

    /// Base64url-decodes one part into temporary storage and parses it as a JSON object.
    static func decodeObject(_ part: UnsafeBufferPointer<UInt8>, part name: String) -> Result<[String: JSONValue], JOSEError> {
        decode(part, part: name) { (bytes) throws(JSONParser.Failure) in try parser.parseObject(buffer: bytes) }
    }

    /// Base64url-decodes the payload into storage the claims keep, and checks it as `decodeObject` would.
    static func decodeClaims(_ part: UnsafeBufferPointer<UInt8>) -> Result<JWTClaims, JOSEError> {
        guard let bytes = Base64URL.decode(buffer: part) else { return .failure(.invalidBase64URL("payload")) }
        return JWTClaims.make(payload: bytes, parser: parser).mapError { _ in .invalidJSON("payload") }
    }

    /// Base64url-decodes one part into temporary storage and hands the bytes to `parse`.
    @inline(__always)
    private static func decode<T>(
        _ part: UnsafeBufferPointer<UInt8>, part name: String, parse: (UnsafeBufferPointer<UInt8>) throws(JSONParser.Failure) -> T
    ) -> Result<T, JOSEError> {
        guard let length = Base64URL.decodedCount(part.count) else { return .failure(.invalidBase64URL(name)) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(length, 1)) { storage in
            guard Base64URL.decode(part, into: storage.baseAddress!) else { return .failure(.invalidBase64URL(name)) }
            do throws(JSONParser.Failure) {
                return .success(try parse(UnsafeBufferPointer(start: storage.baseAddress!, count: length)))
            } catch {
                return .failure(.invalidJSON(name))
            }
        }
    }
}
