import Foundation
import JOSE
import Testing

/// Keys generated once for the whole suite (RSA generation is slow).
enum TestKeys {
    static let es256 = try! JWSPrivateKey.generate(.es256)
    static let es256Other = try! JWSPrivateKey.generate(.es256)
    static let rs256 = try! JWSPrivateKey.generate(.rs256)
    static let ps256 = try! JWSPrivateKey.generate(.ps256)
    static let edDSA = try! JWSPrivateKey.generate(.edDSA)
    static func key(_ algorithm: JWSAlgorithm) -> JWSPrivateKey {
        switch algorithm {
        case .es256: return es256
        case .rs256: return rs256
        case .ps256: return ps256
        case .edDSA: return edDSA
        }
    }
    static var all: [JWSPrivateKey] { [es256, es256Other, rs256, ps256, edDSA] }
    static func lookup(_ kid: String) -> JWSPublicKey? { all.first { $0.kid == kid }?.publicKey }
}

@Suite("JWS sign and verify") struct JWSTests {
    @Test("each algorithm round-trips and names its own thumbprint as kid", arguments: JWSAlgorithm.allCases)
    func roundTrip(algorithm: JWSAlgorithm) throws {
        let key = TestKeys.key(algorithm)
        #expect(key.kid == key.publicKey.jwk.thumbprint())
        let token = try JWS.sign(claims: ["sub": .string("svc"), "exp": .int(2_000_000_000)], key: key, type: "at+jwt")
        let verified = try JWS.verify(token, key: TestKeys.lookup)
        #expect(verified.claims["sub"] == .string("svc"))
        #expect(verified.header["alg"] == .string(algorithm.rawValue))
        #expect(verified.header["typ"] == .string("at+jwt"))
        #expect(verified.key.kid == key.kid)
    }

    @Test("a key round-trips through PKCS#8 PEM with the same kid", arguments: JWSAlgorithm.allCases)
    func pemRoundTrip(algorithm: JWSAlgorithm) throws {
        let key = TestKeys.key(algorithm)
        let pem = try key.pkcs8PEM()
        #expect(String(decoding: pem, as: UTF8.self).hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let reloaded = try JWSPrivateKey(pem: pem, algorithm: algorithm)
        #expect(reloaded.kid == key.kid)
        let token = try JWS.sign(claims: ["exp": .int(1)], key: reloaded)
        #expect(try JWS.verify(token, using: key.publicKey).claims["exp"] == .int(1))
    }

    @Test("a key of the wrong type for the algorithm is refused")
    func keyTypeMismatch() throws {
        #expect(throws: JOSEError.self) { try JWSPrivateKey(pem: TestKeys.es256.pkcs8PEM(), algorithm: .rs256) }
        #expect(throws: JOSEError.self) { try JWSPrivateKey(pem: TestKeys.rs256.pkcs8PEM(), algorithm: .edDSA) }
        #expect(throws: JOSEError.self) { try JWSPrivateKey(pem: TestKeys.edDSA.pkcs8PEM(), algorithm: .es256) }
        #expect(throws: JOSEError.self) { try JWSPrivateKey(pem: Array("not a key".utf8), algorithm: .es256) }
        #expect(throws: JOSEError.self) { try JWSPublicKey(jwk: JWK(kty: "RSA", n: "AQAB", e: "AQAB", alg: "RS256")) }
    }

    @Test("JWK export and import give back the same key", arguments: JWSAlgorithm.allCases)
    func jwkRoundTrip(algorithm: JWSAlgorithm) throws {
        let key = TestKeys.key(algorithm)
        let imported = try JWSPublicKey(jwk: JWK(json: key.publicKey.jwk.json.objectValue!))
        #expect(imported.kid == key.kid)
        #expect(imported.algorithm == algorithm)
        let token = try JWS.sign(claims: ["exp": .int(5)], key: key)
        _ = try JWS.verify(token, using: imported)
    }
}

@Suite("JWS tampering and hostile tokens") struct JWSTamperingTests {
    let key = TestKeys.es256

    func expectRejected(_ token: String, _ expected: JOSEError? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try JWS.verify(token, key: TestKeys.lookup)
            Issue.record("token was accepted", sourceLocation: sourceLocation)
        } catch {
            if let expected { #expect(error == expected, sourceLocation: sourceLocation) }
        }
    }

    func header(_ alg: String, kid: String? = nil, extra: String = "") -> String {
        "{\"alg\":\"\(alg)\",\"kid\":\"\(kid ?? key.kid)\"\(extra)}"
    }

    @Test("a changed header, payload or signature byte fails", arguments: JWSAlgorithm.allCases)
    func tamper(algorithm: JWSAlgorithm) throws {
        let key = TestKeys.key(algorithm)
        let token = try JWS.sign(claims: ["sub": .string("a"), "exp": .int(2_000_000_000)], key: key)
        let parts = token.split(separator: ".").map(String.init)
        let otherPayload = Forge.b64("{\"sub\":\"b\",\"exp\":2000000000}")
        expectRejected([parts[0], otherPayload, parts[2]].joined(separator: "."), .invalidSignature)
        let otherHeader = Forge.b64("{\"alg\":\"\(algorithm.rawValue)\",\"typ\":\"at+jwt\",\"kid\":\"\(key.kid)\"}")
        expectRejected([otherHeader, parts[1], parts[2]].joined(separator: "."), .invalidSignature)
        var signature = Base64URL.decode(parts[2])!
        for index in [0, signature.count / 2, signature.count - 1] {
            var flipped = signature
            flipped[index] ^= 0x01
            expectRejected([parts[0], parts[1], Base64URL.encode(flipped)].joined(separator: "."))
        }
        signature.append(0)
        expectRejected([parts[0], parts[1], Base64URL.encode(signature)].joined(separator: "."))
    }

    @Test("a refused signature leaves the key's pooled contexts sound: good, bad and good again, also from many tasks at once",
        arguments: JWSAlgorithm.allCases)
    func contextsSurviveFailures(algorithm: JWSAlgorithm) async throws {
        let key = TestKeys.key(algorithm)
        let token = try JWS.sign(claims: ["sub": .string("a"), "exp": .int(2_000_000_000)], key: key)
        let parts = token.split(separator: ".").map(String.init)
        var signature = Base64URL.decode(parts[2])!
        signature[signature.count / 2] ^= 0x01
        let forged = [parts[0], parts[1], Base64URL.encode(signature)].joined(separator: ".")
        for _ in 0..<3 {
            #expect((try? JWS.verify(token, key: TestKeys.lookup)) != nil)
            expectRejected(forged, .invalidSignature)
        }
        let outcomes = await withTaskGroup(of: (Bool, Bool).self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var good = true
                    var bad = true
                    for _ in 0..<25 {
                        good = good && (try? JWS.verify(token, key: TestKeys.lookup)) != nil
                        bad = bad && (try? JWS.verify(forged, key: TestKeys.lookup)) == nil
                    }
                    return (good, bad)
                }
            }
            return await group.reduce(into: [(Bool, Bool)]()) { $0.append($1) }
        }
        #expect(outcomes.allSatisfy { $0.0 }, "a valid token failed after refusals")
        #expect(outcomes.allSatisfy { $0.1 }, "a forged token verified")
    }

    @Test("alg none is refused, in any spelling, with or without a signature")
    func algNone() {
        for alg in ["none", "None", "NONE", "nOnE"] {
            let unsigned = Forge.b64(header(alg)) + "." + Forge.b64(Forge.claims()) + "."
            expectRejected(unsigned)
            expectRejected(unsigned + "AAAA", .algorithmNotAllowed(alg))
        }
    }

    @Test("HS256 signed with the public key as HMAC secret is refused")
    func hmacConfusion() {
        for target in [TestKeys.rs256, TestKeys.es256] {
            for secret in [Array(target.publicKey.pem().utf8), target.publicKey.jwk.json.serialized()] {
                let input = Forge.b64("{\"alg\":\"HS256\",\"kid\":\"\(target.kid)\"}") + "." + Forge.b64(Forge.claims())
                let mac = Forge.hmacSHA256(key: secret, message: Array(input.utf8))
                expectRejected(input + "." + Base64URL.encode(mac), .algorithmNotAllowed("HS256"))
            }
        }
    }

    @Test("an alg other than the key's is refused even when the signature is valid for it")
    func algSwap() throws {
        // Signed by the RS256 key but the header claims PS256 for the RS256 key's kid, and vice versa.
        let forged = try Forge.token(header: "{\"alg\":\"PS256\",\"kid\":\"\(TestKeys.rs256.kid)\"}", payload: Forge.claims(), key: TestKeys.rs256)
        expectRejected(forged, .algorithmMismatch)
        let forged2 = try Forge.token(header: "{\"alg\":\"RS256\",\"kid\":\"\(TestKeys.ps256.kid)\"}", payload: Forge.claims(), key: TestKeys.ps256)
        expectRejected(forged2, .algorithmMismatch)
        let forged3 = try Forge.token(header: "{\"alg\":\"EdDSA\",\"kid\":\"\(TestKeys.es256.kid)\"}", payload: Forge.claims(), key: TestKeys.es256)
        expectRejected(forged3, .algorithmMismatch)
    }

    @Test("a kid swapped to another key fails; an unknown or missing kid is never guessed")
    func kidSwap() throws {
        let forged = try Forge.token(header: header("ES256", kid: TestKeys.es256Other.kid), payload: Forge.claims(), key: key)
        expectRejected(forged, .invalidSignature)
        let unknown = try Forge.token(header: header("ES256", kid: "no-such-kid"), payload: Forge.claims(), key: key)
        expectRejected(unknown, .unknownKeyID)
        let missing = try Forge.token(header: "{\"alg\":\"ES256\"}", payload: Forge.claims(), key: key)
        expectRejected(missing, .missingKeyID)
        let numeric = try Forge.token(header: "{\"alg\":\"ES256\",\"kid\":7}", payload: Forge.claims(), key: key)
        expectRejected(numeric)
    }

    @Test("headers that carry or point at keys, or change processing, are refused", arguments: JWS.forbiddenHeaderParameters.sorted())
    func forbiddenHeaders(name: String) throws {
        let value = name == "crit" ? "[\"exp\"]" : name == "b64" ? "false" : "\"x\""
        let forged = try Forge.token(header: header("ES256", extra: ",\"\(name)\":\(value)"), payload: Forge.claims(), key: key)
        expectRejected(forged, .headerNotAllowed(name))
        // Before the alg check passes, a bad alg is what is reported; names that merely resemble a forbidden one pass.
        let badAlg = try Forge.token(header: "{\"alg\":\"none\",\"\(name)\":\(value)}", payload: Forge.claims(), key: key)
        expectRejected(badAlg, .algorithmNotAllowed("none"))
        for lookalike in [name.uppercased(), name + " ", "x" + name] {
            let allowed = try Forge.token(header: header("ES256", extra: ",\"\(lookalike)\":\(value)"), payload: Forge.claims(), key: key)
            #expect(throws: Never.self, "\(lookalike) is not a registered parameter") { try JWS.verify(allowed) { _ in key.publicKey } }
        }
    }

    @Test("a duplicate header member is refused however many members precede it")
    func duplicateHeaderMembers() throws {
        for padding in [0, 3, 15, 16, 40] {
            let extra = (0..<padding).map { ",\"p\($0)\":\($0)" }.joined()
            let ok = try Forge.token(header: header("ES256", extra: extra), payload: Forge.claims(), key: key)
            #expect(throws: Never.self) { try JWS.verify(ok) { _ in key.publicKey } }
            let dup = try Forge.token(header: header("ES256", extra: extra + ",\"p0\":1,\"kid\":\"x\""), payload: Forge.claims(), key: key)
            expectRejected(dup, .invalidJSON("header"))
        }
    }

    @Test("structurally broken tokens fail with a typed error", arguments: [
        "", ".", "..", "a.b", "a.b.c.d", "a..c", "eyJhbGciOiJFUzI1NiJ9", "!!!.!!!.!!!", "eyJ.eyJ.eyJ",
        "e30.e30.AAAA", "W10.e30.AAAA", "bnVsbA.e30.AAAA",
    ])
    func malformed(token: String) {
        expectRejected(token)
    }

    @Test("truncation, padding and whitespace are refused")
    func truncationAndPadding() throws {
        let token = try JWS.sign(claims: ["exp": .int(2_000_000_000)], key: key)
        for cut in [1, 2, 10, token.count / 2] { expectRejected(String(token.dropLast(cut))) }
        let parts = token.split(separator: ".").map(String.init)
        expectRejected(parts[0] + "=." + parts[1] + "." + parts[2])
        expectRejected(parts[0] + "." + parts[1] + "." + parts[2] + "==")
        expectRejected(parts[0] + "." + parts[1] + " ." + parts[2])
        expectRejected(" " + token)
        expectRejected(token + "\n")
        expectRejected(parts[0] + "." + parts[1].replacingOccurrences(of: "_", with: "/") + "x." + parts[2])
    }

    @Test("tokens over the size limit are refused before decoding")
    func oversized() throws {
        let big = String(repeating: "A", count: 1_000_000)
        expectRejected(big + "." + big + "." + big, .tokenTooLarge)
        let filler = String(repeating: "x", count: 17_000)
        let large = try JWS.sign(claims: ["exp": .int(2_000_000_000), "pad": .string(filler)], key: key)
        expectRejected(large, .tokenTooLarge)
    }

    @Test("a validly signed payload that is not a JSON object, or has duplicate keys, is refused")
    func badPayloads() throws {
        for payload in ["[1,2]", "\"text\"", "42", "{\"exp\":1,\"exp\":2000000000}", "{\"exp\":", "not json"] {
            let forged = try Forge.token(header: header("ES256"), payload: payload, key: key)
            expectRejected(forged, .invalidJSON("payload"))
        }
        let dupHeader = try Forge.token(header: "{\"alg\":\"ES256\",\"alg\":\"ES256\",\"kid\":\"\(key.kid)\"}", payload: Forge.claims(), key: key)
        expectRejected(dupHeader, .invalidJSON("header"))
    }

    @Test("an ECDSA signature in DER form, or with the wrong width, is refused")
    func ecdsaSignatureForm() throws {
        let token = try JWS.sign(claims: ["exp": .int(2_000_000_000)], key: key)
        let parts = token.split(separator: ".").map(String.init)
        let raw = Base64URL.decode(parts[2])!
        expectRejected(parts[0] + "." + parts[1] + "." + Base64URL.encode(raw.prefix(63)))
        expectRejected(parts[0] + "." + parts[1] + "." + Base64URL.encode([0] + raw))
        expectRejected(parts[0] + "." + parts[1] + "." + Base64URL.encode([UInt8](repeating: 0, count: 64)))
    }

    @Test("random mutations of valid tokens never verify and never crash")
    func mutationFuzz() throws {
        var rng = SplitMix64(seed: 0x746F_6B65_6E21)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \u{0}é".utf8)
        for algorithm in JWSAlgorithm.allCases {
            let token = Array(try JWS.sign(claims: ["exp": .int(2_000_000_000), "sub": .string("fuzz")], key: TestKeys.key(algorithm)).utf8)
            for _ in 0..<400 {
                var mutated = token
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let position = Int.random(in: 0..<mutated.count, using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: mutated[position] = alphabet.randomElement(using: &rng)!
                    case 1: mutated.remove(at: position)
                    default: mutated.insert(alphabet.randomElement(using: &rng)!, at: position)
                    }
                }
                guard mutated != token, let text = String(validating: mutated, as: UTF8.self) else { continue }
                // A mutation confined to a base64 character's unused low bits is refused as non-canonical.
                #expect(throws: JOSEError.self) { try JWS.verify(text, key: TestKeys.lookup) }
            }
        }
    }
}

/// A tiny deterministic generator, so a fuzz failure can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
