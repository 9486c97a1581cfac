// Fuzz target `jws-verify`: an arbitrary compact token through every verification entry point, against the
// fixed keys (ES256, RS256, PS256, EdDSA; the algorithm is the key's, looked up by kid in a JWKS or given),
// and through the unverified readers and the claims checks. Invariants:
// - nothing traps, whatever the bytes;
// - a token verifies only if one of the fixed keys really signed its signing input (header.payload), and then
//   only with that key, under the key's own algorithm, with a kid that names it and no forbidden header;
//   for the deterministic algorithms (RS256, EdDSA) the signature is the one the key makes;
// - a verified token's claims are what the unverified reader sees; both claim storages (indexed and
//   parsed) give the same claims and the same ClaimsValidator verdict, and a token the validator passes
//   has a numeric exp in the future (with leeway) and the issuer, audience and type asked for;
// - every base64url part that decodes is canonical (it re-encodes to itself).
@testable import JOSE

private let now = 1_800_000_100.0
private let validators = [
    ClaimsValidator(),
    ClaimsValidator(
        issuers: ["https://broker.test", "joe", "https://kc.test/realms/tenant1"],
        audiences: ["https://tenant1.expertflow.com", "cx-portal"], types: ["JWT", "at+jwt"], leeway: 60),
]

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    writeCorpusIfAsked {
        (Seeds.rfcTokens.map { ($0.name, $0.token) } + Seeds.signedTokens() + Seeds.hmacConfusionTokens() + Seeds.hostileTokens)
            .map { (name: $0.0 + ".jwt", bytes: Array($0.1.utf8)) }
    }
    // The oracle is only as good as its record of what was signed: the RFC tokens and the standard seeds must
    // verify (a change of keys or seeds that breaks this would make the target check nothing).
    for rfc in Seeds.rfcTokens where rfc.signer != nil {
        require((try? JWS.verifySignature(rfc.token, using: rfc.signer!.publicKey)) != nil, "\(rfc.name) does not verify")
    }
    for (name, token) in Seeds.signedTokens() where name.hasSuffix("-standard") || name.hasSuffix("-keycloak") {
        require((try? JWS.verify(token, key: FuzzKeys.lookup)) != nil, "seed \(name) does not verify")
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWSVerify(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let token = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    checkParts(token)
    checkUnverified(token)
    if let verified = try? JWS.verify(token, key: FuzzKeys.lookup) {
        require(verified.header["kid"] != nil, "a token without kid verified through the kid lookup")
        checkVerified(token, header: verified.header, key: verified.key)
        checkClaims(token, verified.claims)
    }
    for key in FuzzKeys.publicKeys {
        if let verified = try? JWS.verify(token, using: key) {
            require(verified.key === key, "verify(using:) reports another key")
            checkVerified(token, header: verified.header, key: key)
            checkClaims(token, verified.claims)
        }
        if let verified = try? JWS.verifySignature(token, using: key) {
            require(verified.key === key, "verifySignature(using:) reports another key")
            checkVerified(token, header: verified.header, key: key)
            let payload = token.split(separator: ".", omittingEmptySubsequences: false)[1]
            require((try? verified.payload()) == Base64URL.decode(payload), "verified payload differs from the token's")
        }
    }
    return 0
}

private func checkVerified(_ token: String, header: [String: JSONValue], key: JWSPublicKey) {
    require(token.utf8.count <= JWS.defaultMaxTokenBytes, "a token over the size limit verified")
    guard let input = signingInput(of: token), let signer = Seeds.signedInputs[String(input)] else {
        require(false, "a token verified that no fixed key signed: \(token)")
        return
    }
    require(signer.publicKey.jwk == key.jwk, "a token signed by \(signer.kid) verified with \(key.kid)")
    require(header["alg"] == .string(key.algorithm.rawValue), "verified under alg \(String(describing: header["alg"])) with a \(key.algorithm.rawValue) key")
    if let kid = header["kid"] { require(kid == .string(key.kid), "verified with kid \(kid) by key \(key.kid)") }
    require(!header.keys.contains(where: JWS.forbiddenHeaderParameters.contains), "a token with a forbidden header verified")
    if key.algorithm == .rs256 || key.algorithm == .edDSA {
        let signature = token.split(separator: ".", omittingEmptySubsequences: false)[2]
        let expected = try? signer.sign(Array(input.utf8))
        require(expected.map(Base64URL.encode) == String(signature), "a \(key.algorithm.rawValue) signature verified that the key does not make")
    }
}

private func checkClaims(_ token: String, _ claims: JWTClaims) {
    let unverified = try? JWS.unverifiedClaims(token)
    require(unverified == claims.dictionary, "verified claims differ from the unverified reader's")
}

private func checkParts(_ token: String) {
    for part in token.split(separator: ".", omittingEmptySubsequences: false) {
        if let bytes = Base64URL.decode(part) {
            require(Base64URL.encode(bytes) == part, "non-canonical base64url part accepted: \(part)")
        }
    }
}

/// The readers that look at a token before verification, and the claims rules on what they read.
private func checkUnverified(_ token: String) {
    let header = try? JWS.unverifiedHeader(token)
    let claims = try? JWS.unverifiedClaims(token)
    let indexed = try? JWS.unverifiedJWTClaims(token)
    require((claims == nil) == (indexed == nil), "unverifiedClaims and unverifiedJWTClaims disagree on whether the payload is valid")
    guard let header, let claims, let indexed else { return }
    require(indexed.dictionary == claims, "indexed claims differ from the parsed ones")
    let protected = JWS.Header(members: header.map { (key: $0.key, value: $0.value) }, type: header["typ"]?.stringValue)
    let key = FuzzKeys.publicKeys[0]
    let asIndexed = VerifiedJWT(protectedHeader: protected, claims: indexed, key: key)
    let asParsed = VerifiedJWT(protectedHeader: protected, claims: JWTClaims(claims), key: key)
    for validator in validators {
        let verdict = Result { () throws(JOSEError) in try validator.validate(asIndexed, now: now) }.map { true }
        let again = Result { () throws(JOSEError) in try validator.validate(asParsed, now: now) }.map { true }
        require(verdict == again, "ClaimsValidator: \(verdict) on indexed claims, \(again) on parsed ones")
        guard case .success = verdict else { continue }
        guard let exp = claims["exp"]?.numberValue else {
            require(false, "claims without a numeric exp passed")
            continue
        }
        require(now < exp + validator.leeway, "an expired token passed")
        if let nbf = claims["nbf"] { require(nbf.numberValue.map { now + validator.leeway >= $0 } == true, "nbf not honoured") }
        if let iat = claims["iat"] { require(iat.numberValue.map { $0 <= now + validator.leeway } == true, "iat not honoured") }
        if let issuers = validator.issuers {
            require(claims["iss"]?.stringValue.map(issuers.contains) == true, "issuer not honoured")
        }
        if let audiences = validator.audiences {
            let names: [String] = switch claims["aud"] {
            case .string(let one): [one]
            case .array(let many): many.compactMap(\.stringValue)
            default: []
            }
            require(names.contains(where: audiences.contains), "audience not honoured")
        }
        if let types = validator.types {
            require(header["typ"]?.stringValue.map { types.contains(ClaimsValidator.normalizedType($0)) } == true, "type not honoured")
        }
    }
}
