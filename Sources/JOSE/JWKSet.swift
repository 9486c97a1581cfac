/// A set of verification keys indexed by `kid`, as published at a `jwks_uri`.
public struct JWKSet: Sendable {
    /// The usable signing keys, by kid.
    public let keys: [String: JWSPublicKey]
    /// Keys that were present but skipped (encryption keys, unsupported types), with the reason.
    public let skipped: [(kid: String?, reason: String)]

    /// A set of already-built keys.
    public init(keys: [JWSPublicKey]) {
        var byKid = [String: JWSPublicKey]()
        for key in keys { byKid[key.kid] = key }
        self.keys = byKid
        self.skipped = []
    }

    /// Parses a JWKS document; encryption keys and keys this broker cannot verify with are skipped,
    /// never guessed at. Duplicate kids make the whole document invalid (the kid would be ambiguous).
    public init(json bytes: some Collection<UInt8>, maxBytes: Int = 512 * 1024) throws(JOSEError) {
        let document: [String: JSONValue]
        do {
            document = try JSONParser(maxBytes: maxBytes, maxDepth: 8).parseObject(bytes)
        } catch {
            throw .invalidJSON("JWKS")
        }
        guard let entries = document["keys"]?.arrayValue else { throw .invalidKey("JWKS has no keys array") }
        var keys = [String: JWSPublicKey]()
        var skipped = [(kid: String?, reason: String)]()
        var kids = Set<String>()
        for entry in entries {
            guard let object = entry.objectValue else {
                skipped.append((nil, "not an object"))
                continue
            }
            let kid = object["kid"]?.stringValue
            if let kid, kids.contains(kid) { throw .invalidKey("duplicate kid in JWKS") }
            if let kid { kids.insert(kid) }
            do throws(JOSEError) {
                let jwk = try JWK(json: object)
                guard jwk.kid != nil else { throw .invalidKey("key has no kid") }
                let key = try JWSPublicKey(jwk: jwk)
                keys[key.kid] = key
            } catch {
                skipped.append((kid, error.description))
            }
        }
        self.keys = keys
        self.skipped = skipped
    }

    /// The JWKS document with every key in kid order.
    public func serialized() -> [UInt8] {
        JSONValue.object(["keys": .array(keys.keys.sorted().map { keys[$0]!.jwk.json })]).serialized()
    }
}
