// Fuzz target `jws-mutate`: signs claims taken from the input with one of the fixed keys, then applies the
// mutations the input describes to the token and verifies the result. Input layout: a key index byte, an
// operation count byte, four bytes per operation (kind, position as two bytes, value), then the claims (a
// JSON object, or any bytes, which become a `sub` claim). Invariants:
// - a token as signed verifies, under the lookup by kid, with exactly the claims it was signed with;
// - a mutated token (any byte differs) never verifies, by any entry point or key, unless the mutations
//   spliced in a whole donor token (a valid token of another key): bit flips, inserted,
//   deleted or replaced characters, truncation, parts spliced from other valid tokens, re-encoded headers
//   (another alg, another key's kid, no kid, forbidden or extra members, duplicates, whitespace), edited
//   claims, signatures cut, padded, zeroed, taken from another token, DER-encoded, and base64url with
//   unused bits set;
// - the one exception is ECDSA's own malleability: for ES256, (r, n - s) is a second valid signature over
//   the same header and payload. OpenSSL accepts it and so does the broker (a token's identity is its jti,
//   never its signature bytes); the target allows exactly that twin (of the token or of a donor) and nothing else.
@testable import JOSE

/// The order of P-256, big-endian.
private let p256Order: [UInt8] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
]
private let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
/// Characters to insert or replace with: the base64url alphabet, and what must never pass for it.
private let alphabet = base64Alphabet + Array(".=+/ \u{0}\n\u{7F}".utf8) + [0xC3, 0xA9, 0xFF]
private let algorithmNames = ["none", "None", "HS256", "ES256", "RS256", "PS256", "EdDSA", "es256", "ES384", "RS512", "ES256K", ""]
private let forbiddenNames = JWS.forbiddenHeaderParameters.sorted()
private let claimsParser = JSONParser(maxBytes: 4096, maxDepth: 8)

/// A valid token per key over other claims, whose parts are spliced into the token under test.
private let donors: [[[UInt8]]] = FuzzKeys.all.map { key in
    guard let token = try? JWS.sign(claims: ["sub": .string("donor"), "exp": .int(1_800_000_300)], key: key) else {
        fatalError("donor token for \(key.algorithm)")
    }
    return Array(token.utf8).split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).map(Array.init)
}

private let donorTokens: [String] = donors.map { String(decoding: Array($0.joined(separator: [UInt8(ascii: ".")])), as: UTF8.self) }

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    writeCorpusIfAsked {
        var seeds = [Seed]()
        let payloads = [("claims", Seeds.claims), ("keycloak", Seeds.keycloakClaims), ("escaped", Seeds.escapedClaims), ("text", "svc")]
        for key in 0..<FuzzKeys.all.count {
            for kind in 0..<10 {
                for (name, payload) in payloads where kind == 0 || name == "claims" || (kind == 7 && name == "keycloak") {
                    for value in kind >= 5 ? Array(0..<8) : [kind * 37] {
                        let operation: [UInt8] = [UInt8(kind), 0, UInt8(20 + 13 * value % 200), UInt8(value)]
                        seeds.append(("key\(key)-op\(kind)-v\(value)-\(name)", [UInt8(key), 0] + operation + Array(payload.utf8)))
                    }
                }
            }
        }
        return seeds
    }
    _ = donors
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWSMutate(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var reader = FuzzReader(UnsafeBufferPointer(start: data, count: size))
    let keyIndex = Int(reader.byte()) % FuzzKeys.all.count
    let key = FuzzKeys.all[keyIndex]
    let count = 1 + Int(reader.byte() % 4)
    var operations = [(kind: UInt8, position: Int, value: UInt8)]()
    for _ in 0..<count { operations.append((reader.byte(), reader.uint16(), reader.byte())) }
    let claimsBytes = reader.rest()

    let claims = (try? claimsParser.parseObject(array: claimsBytes))
        ?? ["sub": .string(String(decoding: claimsBytes, as: UTF8.self)), "exp": .int(1_800_000_300)]
    guard let token = try? JWS.sign(claims: claims, key: key) else {
        require(false, "signing failed")
        return 0
    }
    guard let verified = try? JWS.verify(token, key: FuzzKeys.lookup) else {
        require(false, "a freshly signed token does not verify: \(token)")
        return 0
    }
    require(normalized(.object(verified.claims.dictionary)) == normalized(.object(claims)), "claims changed between signing and verifying")

    var bytes = Array(token.utf8)
    for operation in operations { mutate(&bytes, operation, keyIndex: keyIndex) }
    if bytes.elementsEqual(token.utf8) { return 0 }
    checkRefused(String(decoding: bytes, as: UTF8.self), original: token, key: key)
    return 0
}

/// The tokens a mutation may legitimately arrive at: a donor spliced in whole, or the ECDSA twin of the token
/// or of a donor. Nil for anything else, which must not verify; otherwise the key that signed it.
private func legitimateSigner(of mutated: String, original: String, key: JWSPrivateKey) -> JWSPrivateKey? {
    let candidates = [(original, key)] + Array(zip(donorTokens, FuzzKeys.all))
    for (token, signer) in candidates {
        if token != original, mutated.utf8.elementsEqual(token.utf8) { return signer }
        if signer.algorithm == .es256, isHighSTwin(mutated, of: token) { return signer }
    }
    return nil
}

private func checkRefused(_ mutated: String, original: String, key: JWSPrivateKey) {
    let signer = legitimateSigner(of: mutated, original: original, key: key)
    func refuse(_ verified: Bool, _ how: String, by verifier: JWSPublicKey?) {
        guard verified else { return }
        require(signer != nil && (verifier == nil || verifier === signer!.publicKey), "a mutated token verified (\(how)): \(original) -> \(mutated)")
    }
    refuse((try? JWS.verify(mutated, key: FuzzKeys.lookup)) != nil, "kid lookup", by: nil)
    // verify(using:) and verifySignature(using:) share one signature check (jws-verify runs both); one of them
    // per key keeps a signature check per mutated token instead of two.
    for publicKey in FuzzKeys.publicKeys {
        refuse((try? JWS.verify(mutated, using: publicKey)) != nil, "verify using \(publicKey.algorithm.rawValue)", by: publicKey)
    }
    _ = try? JWS.unverifiedHeader(mutated)
    _ = (try? JWS.unverifiedJWTClaims(mutated))?.dictionary
}

/// Whether `mutated` is `original` with the ECDSA signature (r, s) replaced by (r, n - s).
private func isHighSTwin(_ mutated: String, of original: String) -> Bool {
    let a = mutated.split(separator: ".", omittingEmptySubsequences: false)
    let b = original.split(separator: ".", omittingEmptySubsequences: false)
    guard a.count == 3, b.count == 3, a[0] == b[0], a[1] == b[1],
        let signature = Base64URL.decode(a[2]), let originalSignature = Base64URL.decode(b[2]),
        signature.count == 64, originalSignature.count == 64
    else { return false }
    return signature[..<32] == originalSignature[..<32] && signature[32...].elementsEqual(orderMinus(Array(originalSignature[32...])))
}

/// n - s for P-256's order n (s is 32 bytes, big-endian).
private func orderMinus(_ s: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 32)
    var borrow = 0
    for index in stride(from: 31, through: 0, by: -1) {
        var digit = Int(p256Order[index]) - Int(s[index]) - borrow
        borrow = digit < 0 ? 1 : 0
        if digit < 0 { digit += 256 }
        out[index] = UInt8(digit)
    }
    return out
}

private func mutate(_ bytes: inout [UInt8], _ operation: (kind: UInt8, position: Int, value: UInt8), keyIndex: Int) {
    let value = operation.value
    let argument = Int(value >> 3) + operation.position
    switch operation.kind % 10 {
    case 0:
        if !bytes.isEmpty { bytes[operation.position % bytes.count] ^= 1 << (value % 8) }
    case 1:
        if !bytes.isEmpty { bytes[operation.position % bytes.count] = alphabet[Int(value) % alphabet.count] }
    case 2:
        bytes.insert(alphabet[Int(value) % alphabet.count], at: operation.position % (bytes.count + 1))
    case 3:
        if !bytes.isEmpty { bytes.remove(at: operation.position % bytes.count) }
    case 4:
        bytes.removeLast(bytes.count - operation.position % (bytes.count + 1))
    case let kind:
        var parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).map(Array.init)
        guard parts.count == 3 else { return }
        switch kind {
        case 5:
            let part = Int(value) % 3
            parts[part] = donors[(Int(value) / 3 + operation.position) % donors.count][part]
        case 6: editHeader(&parts[0], choice: value % 8, argument: argument)
        case 7: editPayload(&parts[1], choice: value % 4)
        case 8: editSignature(&parts[2], choice: value % 8, keyIndex: keyIndex)
        default: setUnusedBits(&parts[Int(value) % 3])
        }
        bytes = Array(parts.joined(separator: [UInt8(ascii: ".")]))
    }
}

private func editHeader(_ part: inout [UInt8], choice: UInt8, argument: Int) {
    guard let json = Base64URL.decode(bytes: part), var header = try? claimsParser.parseObject(array: json) else { return }
    var encoded: [UInt8]
    switch choice {
    case 6: // A second alg member after the first.
        encoded = json.dropLast() + Array(#","alg":"\#(algorithmNames[argument % algorithmNames.count])"}"#.utf8)
    case 7: // The same header with whitespace: other bytes, so another signing input.
        encoded = [0x20] + json
    default:
        switch choice {
        case 0: header["alg"] = .string(algorithmNames[argument % algorithmNames.count])
        case 1: header["kid"] = .string(FuzzKeys.all[argument % FuzzKeys.all.count].kid)
        case 2: header["kid"] = nil
        case 3: header[forbiddenNames[argument % forbiddenNames.count]] = .string("x")
        case 4: header["x-fuzz"] = .int(Int64(argument))
        default: header["typ"] = .string("at+jwt")
        }
        encoded = JSONValue.object(header).serialized()
    }
    part = Array(Base64URL.encode(encoded).utf8)
}

private func editPayload(_ part: inout [UInt8], choice: UInt8) {
    guard let json = Base64URL.decode(bytes: part), var claims = try? claimsParser.parseObject(array: json) else { return }
    var encoded: [UInt8]
    switch choice {
    case 0:
        claims["exp"] = .int((claims["exp"]?.intValue ?? 0) &+ 1)
        encoded = JSONValue.object(claims).serialized()
    case 1:
        claims["sub"] = .string("admin")
        encoded = JSONValue.object(claims).serialized()
    case 2:
        claims["roles"] = .array([.string("admin")])
        encoded = JSONValue.object(claims).serialized()
    default:
        encoded = json + [0x20]
    }
    part = Array(Base64URL.encode(encoded).utf8)
}

private func editSignature(_ part: inout [UInt8], choice: UInt8, keyIndex: Int) {
    guard var signature = Base64URL.decode(bytes: part), !signature.isEmpty else { return }
    let es256 = FuzzKeys.all[keyIndex].algorithm == .es256
    switch choice {
    case 0: signature.removeLast()
    case 1: signature.append(0)
    case 2: signature.insert(0, at: 0)
    case 3: signature = [UInt8](repeating: 0, count: signature.count)
    case 4: signature = Base64URL.decode(bytes: donors[keyIndex][2]) ?? []
    case 5:
        if es256, signature.count == 64 {
            signature = signature.withUnsafeBufferPointer { raw in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 72) { der in
                    Array(UnsafeBufferPointer(start: der.baseAddress!, count: JWSPublicKey.ecdsaDER(raw: raw, into: der.baseAddress!)))
                }
            }
        } else {
            signature.reverse()
        }
    case 6:
        if es256, signature.count == 64 {
            signature = Array(signature[..<32]) + orderMinus(Array(signature[32...]))
        } else {
            signature[signature.count - 1] ^= 1
        }
    default: signature = []
    }
    part = Array(Base64URL.encode(signature).utf8)
}

/// Flips the lowest bit of the last character: one of the unused bits when the part's length is 2 or 3 mod 4
/// (refused as non-canonical), a data bit otherwise.
private func setUnusedBits(_ part: inout [UInt8]) {
    guard let last = part.last, let index = base64Alphabet.firstIndex(of: last) else { return }
    part[part.count - 1] = base64Alphabet[index ^ 1]
}
