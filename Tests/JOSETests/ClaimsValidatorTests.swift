import JOSE
import Testing

@Suite("registered claims") struct ClaimsValidatorTests {
    let now: Double = 1_800_000_000
    let validator = ClaimsValidator(
        issuers: ["https://broker.test"], audiences: ["https://tenant1.expertflow.com"], types: ["at+jwt"], leeway: 60)

    func verified(_ claims: String, typ: String = "at+jwt") throws -> VerifiedJWT {
        let key = TestKeys.es256
        let token = try Forge.token(header: "{\"alg\":\"ES256\",\"typ\":\"\(typ)\",\"kid\":\"\(key.kid)\"}", payload: claims, key: key)
        return try JWS.verify(token, key: TestKeys.lookup)
    }

    @Test("a token inside its window with the right iss, aud and typ passes")
    func valid() throws {
        try validator.validate(verified(Forge.claims(now: now)), now: now)
        try validator.validate(verified(Forge.claims(now: now), typ: "application/AT+JWT"), now: now)
    }

    @Test("exp is enforced with leeway, exclusive at the boundary")
    func expiry() throws {
        let token = try verified(Forge.claims(now: now, ttl: 300))
        try validator.validate(token, now: now + 300 + 59)
        #expect(throws: JOSEError.expired) { try validator.validate(token, now: now + 300 + 60) }
        #expect(throws: JOSEError.expired) { try validator.validate(token, now: now + 10_000) }
    }

    @Test("nbf and iat in the future beyond leeway are refused")
    func future() throws {
        let token = try verified(Forge.claims(now: now + 120))
        #expect(throws: JOSEError.notYetValid) { try validator.validate(token, now: now) }
        try validator.validate(token, now: now + 61)
        let iatOnly = try verified("{\"iss\":\"https://broker.test\",\"aud\":\"https://tenant1.expertflow.com\",\"exp\":\(Int(now) + 900),\"iat\":\(Int(now) + 300)}")
        #expect(throws: JOSEError.issuedInFuture) { try validator.validate(iatOnly, now: now) }
    }

    @Test("time claims must be numbers; exp is required")
    func claimTypes() throws {
        let base = "\"iss\":\"https://broker.test\",\"aud\":\"https://tenant1.expertflow.com\""
        #expect(throws: JOSEError.invalidClaim("exp")) { try validator.validate(verified("{\(base),\"exp\":\"\(Int(now) + 60)\"}"), now: now) }
        #expect(throws: JOSEError.missingClaim("exp")) { try validator.validate(verified("{\(base)}"), now: now) }
        #expect(throws: JOSEError.invalidClaim("nbf")) { try validator.validate(verified("{\(base),\"exp\":\(Int(now) + 60),\"nbf\":true}"), now: now) }
        #expect(throws: JOSEError.invalidClaim("iat")) { try validator.validate(verified("{\(base),\"exp\":\(Int(now) + 60),\"iat\":null}"), now: now) }
        try validator.validate(verified("{\(base),\"exp\":\(Int(now) + 60).5}"), now: now)
    }

    @Test("wrong issuer, audience or typ is refused")
    func identity() throws {
        let exp = Int(now) + 300
        #expect(throws: JOSEError.invalidIssuer) {
            try validator.validate(verified("{\"iss\":\"https://evil.test\",\"aud\":\"https://tenant1.expertflow.com\",\"exp\":\(exp)}"), now: now)
        }
        #expect(throws: JOSEError.invalidAudience) {
            try validator.validate(verified("{\"iss\":\"https://broker.test\",\"aud\":\"https://tenant2.expertflow.com\",\"exp\":\(exp)}"), now: now)
        }
        #expect(throws: JOSEError.invalidAudience) {
            try validator.validate(verified("{\"iss\":\"https://broker.test\",\"aud\":7,\"exp\":\(exp)}"), now: now)
        }
        try validator.validate(
            verified("{\"iss\":\"https://broker.test\",\"aud\":[\"x\",\"https://tenant1.expertflow.com\"],\"exp\":\(exp)}"), now: now)
        #expect(throws: JOSEError.invalidType) { try validator.validate(verified(Forge.claims(now: now), typ: "JWT"), now: now) }
    }
}

@Suite("JWK sets") struct JWKSetTests {
    @Test("a Keycloak-style JWKS keeps signing keys and skips the enc key")
    func keycloakShape() throws {
        var rsa = TestKeys.rs256.publicKey.jwk
        rsa.kid = "Xq3QGkzP1u0cXrW8n2vM5yTqE0h4bR7sK9dLfJ6aC1o"
        var enc = TestKeys.ps256.publicKey.jwk
        enc.kid = "p7Zq"
        enc.alg = "RSA-OAEP"
        enc.use = "enc"
        var rsaNoAlg = TestKeys.ps256.publicKey.jwk
        rsaNoAlg.kid = "no-alg"
        rsaNoAlg.alg = nil
        let document = JSONValue.object(["keys": .array([enc.json, rsa.json, rsaNoAlg.json, .string("junk")])])
        let set = try JWKSet(json: document.serialized())
        #expect(Set(set.keys.keys) == ["Xq3QGkzP1u0cXrW8n2vM5yTqE0h4bR7sK9dLfJ6aC1o"])
        #expect(set.skipped.count == 3)
        // The token names Keycloak's kid; the key verifies it even though its kid is not a thumbprint.
        let token = try Forge.token(header: "{\"alg\":\"RS256\",\"typ\" : \"JWT\",\"kid\" : \"\(rsa.kid!)\"}", payload: Forge.claims(), key: TestKeys.rs256)
        _ = try JWS.verify(token) { set.keys[$0] }
    }

    @Test("duplicate kids make the JWKS invalid")
    func duplicateKids() throws {
        var a = TestKeys.es256.publicKey.jwk
        var b = TestKeys.es256Other.publicKey.jwk
        a.kid = "same"
        b.kid = "same"
        #expect(throws: JOSEError.self) { try JWKSet(json: JSONValue.object(["keys": .array([a.json, b.json])]).serialized()) }
    }

    @Test("an EC point off the curve, private members and bad sizes are refused")
    func badKeys() throws {
        let good = TestKeys.es256.publicKey.jwk
        var offCurve = good
        var y = Base64URL.decode(good.y!)!
        y[31] ^= 0x01
        offCurve.y = Base64URL.encode(y)
        #expect(throws: JOSEError.self) { try JWSPublicKey(jwk: offCurve) }
        var short = good
        short.x = Base64URL.encode(Base64URL.decode(good.x!)!.dropFirst())
        #expect(throws: JOSEError.self) { try JWSPublicKey(jwk: short) }
        var withPrivate = good.json.objectValue!
        withPrivate["d"] = .string("AAAA")
        #expect(throws: JOSEError.self) { try JWK(json: withPrivate) }
        #expect(throws: JOSEError.self) { try JWSPublicKey(jwk: JWK(kty: "oct", alg: "HS256")) }
        #expect(throws: JOSEError.self) { try JWSPublicKey(jwk: JWK(kty: "EC", crv: "P-384", x: good.x, y: good.y, alg: "ES256")) }
        #expect(throws: JOSEError.self) { try JWKSet(json: Array("{\"keys\":{}}".utf8)) }
        #expect(throws: JOSEError.self) { try JWKSet(json: Array("not json".utf8)) }
    }

    @Test("a small RSA key is refused")
    func smallRSA() throws {
        // 1024-bit modulus: all 0xFF bytes is not a real key, but size is checked first.
        let n = Base64URL.encode([UInt8](repeating: 0xC3, count: 128))
        #expect(throws: JOSEError.self) { try JWSPublicKey(jwk: JWK(kty: "RSA", n: n, e: "AQAB", alg: "RS256")) }
    }
}
