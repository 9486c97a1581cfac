// The seed material every target draws its corpus from (shared, like Common.swift): the RFC 7515 / 8037
// tokens, tokens the fixed keys sign (built from the same headers and claims as Tests/JOSETests), hostile
// token shapes from JWSTests, JSON documents from JSONParserTests and JWKS documents. The jws-verify target
// also learns from here which signing inputs the fixed keys really signed.
@testable import JOSE

enum Seeds {
    static let rfcPayload = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

    /// RFC 7515 A.1 (HS256, refused), A.2 (RS256), A.3 (ES256), A.5 (unsecured, refused) and RFC 8037 A.4
    /// (EdDSA). The A.2, A.3 and 8037 keys are `FuzzKeys`' keys, so those three verify.
    static let rfcTokens: [(name: String, token: String, signer: JWSPrivateKey?)] = [
        ("rfc7515-a1-hs256", "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + rfcPayload + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", nil),
        ("rfc7515-a2-rs256",
         "eyJhbGciOiJSUzI1NiJ9." + rfcPayload
            + ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw",
         FuzzKeys.rs256),
        ("rfc7515-a3-es256",
         "eyJhbGciOiJFUzI1NiJ9." + rfcPayload + ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q",
         FuzzKeys.es256),
        ("rfc7515-a5-none", "eyJhbGciOiJub25lIn0." + rfcPayload + ".", nil),
        ("rfc8037-a4-eddsa",
         "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
         FuzzKeys.edDSA),
    ]

    /// Claims as the tests write them (`Forge.claims`), at a fixed time so that seeds never change.
    static let claims =
        #"{"iss":"https://broker.test","sub":"svc","aud":"https://tenant1.expertflow.com","exp":1800000300,"iat":1800000000,"nbf":1800000000,"tenant_id":"tenant1"}"#

    /// A Keycloak-shaped access token payload: nested objects, an audience array, a scope string.
    static let keycloakClaims =
        #"{"exp":1800000300,"iat":1800000000,"jti":"4f1c2a","iss":"https://kc.test/realms/tenant1","aud":["account","cx-portal"],"sub":"9d3e","typ":"Bearer","azp":"cx-portal","sid":"s1","realm_access":{"roles":["agent","offline_access"]},"resource_access":{"account":{"roles":["view-profile"]}},"scope":"openid profile","preferred_username":"agent1"}"#

    /// Keys with escapes or non-ASCII text, and more than 16 members: the payloads `JWTClaims` hands to the full parser.
    static let escapedClaims = #"{"\u0065xp":1800000300,"sub":"caf\u00e9","é":1,"emoji":"\ud83d\ude00","esc":"\"\\\/\b\f\n\r\t"}"#
    static let manyClaims = "{" + (0..<20).map { "\"c\($0)\":\($0)" }.joined(separator: ",") + ",\"exp\":1800000300}"

    /// What one fixed key signs for the corpus: a header and a payload, as raw JSON text.
    struct Signed {
        let name: String
        let key: JWSPrivateKey
        let header: String
        let payload: String

        var input: String { Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8)) }
    }

    static func standardHeader(_ key: JWSPrivateKey, typ: String = "JWT") -> String {
        #"{"alg":"\#(key.algorithm.rawValue)","typ":"\#(typ)","kid":"\#(key.kid)"}"#
    }

    /// Valid tokens and validly signed hostile ones (refused by policy, not by the signature), for every key.
    static let signed: [Signed] = {
        var specs = [Signed]()
        let names = [JWSAlgorithm.es256: "es256", .rs256: "rs256", .ps256: "ps256", .edDSA: "eddsa"]
        for key in FuzzKeys.all {
            let alg = key.algorithm.rawValue
            let prefix = names[key.algorithm]!
            func add(_ name: String, _ header: String, _ payload: String) {
                specs.append(Signed(name: "\(prefix)-\(name)", key: key, header: header, payload: payload))
            }
            add("standard", standardHeader(key), claims)
            add("no-kid", #"{"alg":"\#(alg)"}"#, claims)
            add("keycloak", standardHeader(key, typ: "at+jwt"), keycloakClaims)
            add("escaped-claims", standardHeader(key), escapedClaims)
            add("many-claims", standardHeader(key), manyClaims)
            add("empty-claims", standardHeader(key), "{}")
            add("array-payload", standardHeader(key), "[1,2]")
            add("duplicate-claim", standardHeader(key), #"{"exp":1,"exp":1800000300}"#)
            add("duplicate-header", #"{"alg":"\#(alg)","alg":"\#(alg)","kid":"\#(key.kid)"}"#, claims)
            add("crit-header", #"{"alg":"\#(alg)","kid":"\#(key.kid)","crit":["exp"]}"#, claims)
            add("jwk-header", #"{"alg":"\#(alg)","kid":"\#(key.kid)","jwk":{"kty":"oct"}}"#, claims)
            add("padded-header", #"{"alg":"\#(alg)","kid":"\#(key.kid)""# + (0..<18).map { ",\"p\($0)\":\($0)" }.joined() + "}", claims)
            add("numeric-kid", #"{"alg":"\#(alg)","kid":7}"#, claims)
            add("alg-none", #"{"alg":"none","kid":"\#(key.kid)"}"#, claims)
            // Signed by this key, but naming another algorithm or another key's kid.
            for other in FuzzKeys.all where other !== key {
                let otherName = names[other.algorithm]!
                add("claims-\(otherName)-alg", #"{"alg":"\#(other.algorithm.rawValue)","kid":"\#(key.kid)"}"#, claims)
                add("claims-\(otherName)-kid", #"{"alg":"\#(alg)","kid":"\#(other.kid)"}"#, claims)
            }
        }
        return specs
    }()

    /// The signing inputs the fixed keys have signed, and which key signed each: the only inputs that may verify.
    static let signedInputs: [String: JWSPrivateKey] = {
        var inputs = [String: JWSPrivateKey]()
        for spec in signed { inputs[spec.input] = spec.key }
        for rfc in rfcTokens { if let signer = rfc.signer { inputs[String(signingInput(of: rfc.token)!)] = signer } }
        return inputs
    }()

    /// Signs every `signed` spec (ECDSA and PSS signatures differ each time; the inputs do not).
    static func signedTokens() -> [(name: String, token: String)] {
        signed.map { spec in
            guard let signature = try? spec.key.sign(Array(spec.input.utf8)) else { fatalError("seed \(spec.name) does not sign") }
            return (spec.name, spec.input + "." + Base64URL.encode(signature))
        }
    }

    /// HS256 over a token signed with a public key as the HMAC secret (the RS/HS confusion): refused by policy.
    static func hmacConfusionTokens() -> [(name: String, token: String)] {
        [FuzzKeys.rs256, FuzzKeys.es256].map { key in
            let input = Base64URL.encode(Array(#"{"alg":"HS256","kid":"\#(key.kid)"}"#.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
            let mac = hmacSHA256(key: Array(key.publicKey.pem().utf8), message: Array(input.utf8))
            return ("hs256-confusion-\(key.algorithm.rawValue.lowercased())", input + "." + Base64URL.encode(mac))
        }
    }

    /// Broken shapes from JWSTests (structure, padding, whitespace, non-canonical base64url).
    static let hostileTokens: [(name: String, token: String)] = {
        let shapes = ["", ".", "..", "a.b", "a.b.c.d", "a..c", "eyJhbGciOiJFUzI1NiJ9", "!!!.!!!.!!!", "eyJ.eyJ.eyJ",
                      "e30.e30.AAAA", "W10.e30.AAAA", "bnVsbA.e30.AAAA", "eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJub25lIn0.e30.AAAA"]
        var tokens = shapes.enumerated().map { (name: "shape-\($0.offset)", token: $0.element) }
        let standard = signedTokens()[0].token
        let parts = standard.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        tokens.append(("padded-header", parts[0] + "=." + parts[1] + "." + parts[2]))
        tokens.append(("padded-signature", standard + "=="))
        tokens.append(("space-before-dot", parts[0] + "." + parts[1] + " ." + parts[2]))
        tokens.append(("trailing-newline", standard + "\n"))
        tokens.append(("truncated", String(standard.dropLast(2))))
        tokens.append(("base64-not-url", parts[0] + "." + String(parts[1].map { $0 == "_" ? "/" : $0 }) + "x." + parts[2]))
        return tokens
    }()

    /// JSON documents: what the tests parse (valid and malformed), the decoded parts of the seed tokens, JWKS.
    static func jsonDocuments() -> [Seed] {
        var documents: [(String, [UInt8])] = []
        func add(_ name: String, _ text: String) { documents.append((name, Array(text.utf8))) }
        add("values", #"{"a":1,"b":-2.5e1,"c":"x\u00e9\ud83d\ude00","d":[true,false,null],"e":{}}"#)
        add("duplicate", #"{"exp":1,"exp":2}"#)
        add("nested-duplicate", #"{"a":{"b":1,"b":1}}"#)
        add("deep", String(repeating: "[", count: 20) + String(repeating: "]", count: 20))
        add("deep-object", String(repeating: "{\"a\":", count: 17) + "1" + String(repeating: "}", count: 17))
        add("numbers", #"[0,-0,1,-1,9223372036854775807,-9223372036854775808,9223372036854775808,1.5,-2.5e1,1e308,5e-324,1E+2,0.1e1,1e-7,123456789012345678901234567890]"#)
        add("strings", #"["","\"\\\/\b\f\n\r\t","\u0000\u001f\u007f","\ud800\udc00","😀","é","e\u0301","  "]"#)
        add("canonical-duplicate", #"{"é":1,"e\u0301":2}"#)
        add("whitespace", " \t\r\n{ \"a\" : [ 1 , 2 ] } \n")
        add("claims", claims)
        add("keycloak-claims", keycloakClaims)
        add("escaped-claims", escapedClaims)
        add("many-claims", manyClaims)
        for (index, bad) in ["", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "01", "1.", ".5", "-", "+1", "1e", "tru", "nul",
                             "\"abc", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\u{01}b\"", "{} {}", "{'a':1}", "NaN", "1e999",
                             "{\"a\":1}x"].enumerated() {
            add("malformed-\(index)", bad)
        }
        documents.append(("invalid-utf8", [0x22, 0xC3, 0x28, 0x22]))
        var seen = Set<[UInt8]>()
        for (name, token) in rfcTokens.map({ ($0.name, $0.token) }) + signedTokens() {
            let parts = token.split(separator: ".", omittingEmptySubsequences: false)
            for (part, label) in zip(parts.prefix(2), ["header", "payload"]) {
                if let bytes = Base64URL.decode(part), seen.insert(bytes).inserted { documents.append(("\(name)-\(label)", bytes)) }
            }
        }
        for seed in jwksDocuments() { documents.append(("jwks-" + seed.name.dropLast(".json".count), seed.bytes)) }
        return documents.map { (name: $0.0 + ".json", bytes: $0.1) }
    }

    /// JWKS documents: the fixed keys' own, the RFC public keys, and keys that must be skipped or refused.
    static func jwksDocuments() -> [Seed] {
        let rsaN = FuzzKeys.rs256.publicKey.jwk.n!
        let ec = FuzzKeys.es256.publicKey.jwk, ed = FuzzKeys.edDSA.publicKey.jwk
        let ecD = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
        var documents: [(String, String)] = [
            ("rfc-public",
             #"{"keys":[{"kty":"EC","crv":"P-256","x":"\#(ec.x!)","y":"\#(ec.y!)","use":"sig","kid":"Public key used in JWS spec Appendix A.3 example"},{"kty":"RSA","n":"\#(rsaN)","e":"AQAB","alg":"RS256","kid":"2011-04-29"},{"kty":"OKP","crv":"Ed25519","x":"\#(ed.x!)","kid":"rfc8037"}]}"#),
            ("private-members", #"{"keys":[{"kty":"EC","crv":"P-256","x":"\#(ec.x!)","y":"\#(ec.y!)","d":"\#(ecD)","kid":"ec-private"}]}"#),
            ("oct-and-enc",
             #"{"keys":[{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow","kid":"hmac"},{"kty":"RSA","n":"\#(rsaN)","e":"AQAB","alg":"RSA-OAEP","use":"enc","kid":"enc"}]}"#),
            ("rsa-no-alg", #"{"keys":[{"kty":"RSA","n":"\#(rsaN)","e":"AQAB","kid":"no-alg"}]}"#),
            ("rsa-leading-zero", #"{"keys":[{"kty":"RSA","n":"AA\#(rsaN)","e":"AAEAAQ","alg":"PS256","kid":"zero"}]}"#),
            ("rsa-short", #"{"keys":[{"kty":"RSA","n":"\#(rsaN.prefix(171))","e":"AQAB","alg":"RS256","kid":"short"}]}"#),
            ("rsa-long-e", #"{"keys":[{"kty":"RSA","n":"\#(rsaN)","e":"AQABAQABAQAB","alg":"RS256","kid":"long-e"}]}"#),
            ("ec-p384", #"{"keys":[{"kty":"EC","crv":"P-384","x":"\#(ec.x!)","y":"\#(ec.y!)","kid":"p384"}]}"#),
            ("ec-off-curve", #"{"keys":[{"kty":"EC","crv":"P-256","x":"\#(ec.x!)","y":"\#(ec.x!)","kid":"off-curve"}]}"#),
            ("ed-short", #"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"\#(ed.x!.prefix(40))","kid":"ed-short"}]}"#),
            ("alg-kty-mismatch", #"{"keys":[{"kty":"EC","crv":"P-256","x":"\#(ec.x!)","y":"\#(ec.y!)","alg":"EdDSA","kid":"mismatch"}]}"#),
            ("duplicate-kid", #"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"\#(ed.x!)","kid":"a"},{"kty":"OKP","crv":"Ed25519","x":"\#(ed.x!)","kid":"a"}]}"#),
            ("no-kid", #"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"\#(ed.x!)"}]}"#),
            ("not-objects", #"{"keys":[1,"a",null,[],{"kty":7}]}"#),
            ("keys-not-array", #"{"keys":{}}"#),
            ("empty", #"{"keys":[]}"#),
            ("no-keys", "{}"),
        ]
        documents.insert(("fuzz-keys", String(decoding: FuzzKeys.jwksDocument, as: UTF8.self)), at: 0)
        return documents.map { (name: $0.0 + ".json", bytes: Array($0.1.utf8)) }
    }

    /// HMAC-SHA256 from SHA-256, as Tests/JOSETests' Forge builds it.
    static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var k = key.count > 64 ? Crypto.sha256(key) : key
        k += [UInt8](repeating: 0, count: 64 - k.count)
        let inner = Crypto.sha256(k.map { $0 ^ 0x36 } + message)
        return Crypto.sha256(k.map { $0 ^ 0x5c } + inner)
    }
}
