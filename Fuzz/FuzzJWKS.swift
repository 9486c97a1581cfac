// Fuzz target `jwks`: a JWK Set document from arbitrary bytes, and the verification keys built from it.
// Invariants:
// - parsing never traps; every kept key is bound to one algorithm that fits its kty, carries its kid, alg and
//   use "sig"; the serialised set reads back to the same keys (so each key round-trips through its JWK);
// - an entry is skipped only when it makes no key on its own; an entry with private members (d, p, q, dp,
//   dq, qi, k) is never kept;
// - one exception, found by this target: OpenSSL's check of an RSA public key (SP 800-56B, run by
//   EVP_PKEY_public_check) uses Miller-Rabin with random bases, so a modulus that is not a product of two large
//   primes (one with a factor just above 751, say) may pass once and fail the next time. A real key always
//   passes; an RSA key that OpenSSL refuses ("OpenSSL refused the key parameters") where it once took it is
//   therefore allowed, and nothing else is;
// - a key read from the document verifies a fixed key's signature only if it is that very key (same public
//   parameters): hostile parameters never make a verifier that accepts what it should not.
@testable import JOSE

/// One signature per algorithm, by the fixed key of that algorithm, over a fixed input.
private let samples: [JWSAlgorithm: (input: [UInt8], signature: [UInt8], key: JWSPublicKey)] = {
    var samples = [JWSAlgorithm: (input: [UInt8], signature: [UInt8], key: JWSPublicKey)]()
    for key in FuzzKeys.all {
        let input = Array("eyJhbGciOiJub25lIn0.ZnV6eg".utf8)
        guard let signature = try? key.sign(input) else { fatalError("sample signature for \(key.algorithm)") }
        samples[key.algorithm] = (input, signature, key.publicKey)
    }
    return samples
}()

private let privateMembers = ["d", "p", "q", "dp", "dq", "qi", "k"]

/// How a key OpenSSL's probabilistic public-key check refused is reported (see the note at the top).
private let probabilisticRefusal = JOSEError.invalidKey("OpenSSL refused the key parameters").description

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    writeCorpusIfAsked { Seeds.jwksDocuments() }
    _ = samples
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWKS(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let set = try? JWKSet(json: bytes) else { return 0 }
    for (kid, key) in set.keys { checkKey(key, kid: kid) }

    guard let again = try? JWKSet(json: set.serialized()) else {
        require(false, "a JWKS the broker serialised does not read back")
        return 0
    }
    require(again.keys.count + again.skipped.count == set.keys.count, "the serialised JWKS has other entries")
    for skipped in again.skipped {
        let key = skipped.kid.flatMap { set.keys[$0] }
        require(key?.jwk.kty == "RSA" && skipped.reason == probabilisticRefusal,
            "key \(String(describing: skipped.kid)) is refused on the way back: \(skipped.reason)")
    }
    for (kid, key) in again.keys {
        require(set.keys[kid]?.jwk == key.jwk && set.keys[kid]?.algorithm == key.algorithm, "key \(kid) changed on the way back")
    }

    // Which entries were kept, decided again one entry at a time.
    guard let document = try? JSONParser(maxBytes: 512 * 1024, maxDepth: 8).parseObject(array: bytes),
        let entries = document["keys"]?.arrayValue
    else {
        require(false, "JWKSet accepted a document without a keys array")
        return 0
    }
    require(set.keys.count + set.skipped.count == entries.count, "\(entries.count) entries, \(set.keys.count) kept, \(set.skipped.count) skipped")
    for entry in entries {
        guard let object = entry.objectValue, let kid = object["kid"]?.stringValue else { continue }
        if let key = set.keys[kid] {
            require(!privateMembers.contains(where: { object[$0] != nil }), "a JWK with private members was kept")
            require(object["kty"] == .string(key.jwk.kty), "entry \(kid) became a key of another type")
        } else if let reason = set.skipped.first(where: { $0.kid == kid })?.reason, reason != probabilisticRefusal {
            // A skipped entry does not make a key on its own either (a kept one did, by construction).
            require((try? JWSPublicKey(jwk: try JWK(json: object))) == nil, "entry \(kid) was skipped (\(reason)) but makes a key alone")
        }
    }
    return 0
}

private func checkKey(_ key: JWSPublicKey, kid: String) {
    let jwk = key.jwk
    require(key.kid == kid && jwk.kid == kid, "key filed under \(kid) says \(key.kid)")
    require(jwk.alg == key.algorithm.rawValue && jwk.use == "sig", "key \(kid): alg \(String(describing: jwk.alg)) use \(String(describing: jwk.use))")
    require(key.algorithm.keyType == jwk.kty, "key \(kid): \(key.algorithm) on kty \(jwk.kty)")
    require(key.pem().hasPrefix("-----BEGIN PUBLIC KEY-----"), "key \(kid) has no PEM")
    _ = jwk.thumbprint()

    guard let sample = samples[key.algorithm] else { return }
    let verifies = sample.input.withUnsafeBytes { key.verify(signature: sample.signature, over: $0) }
    if verifies {
        require(sameMaterial(jwk, sample.key.jwk), "a key from the document (\(jwk.json.serializedString())) verifies the fixed \(key.algorithm.rawValue) key's signature")
    }
}

/// Whether two JWKs hold the same public key (the members RFC 7638 lists, not kid, alg or use).
private func sameMaterial(_ a: JWK, _ b: JWK) -> Bool {
    a.kty == b.kty && a.crv == b.crv && a.x == b.x && a.y == b.y && a.n == b.n && a.e == b.e
}
