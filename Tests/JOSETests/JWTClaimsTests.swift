@testable import JOSE
import Testing

/// `JWTClaims` validates a payload without building it (`JSONParser.indexObject`) and parses claims when
/// read. It must accept exactly what `JSONParser.parseObject` accepts, and read exactly the values it builds.
@Suite("JWT claims, checked without building") struct JWTClaimsTests {
    let parser = JSONParser(maxBytes: 4096, maxDepth: 8)

    /// Both paths on one document: same verdict; when accepted, the same claims, whether read one by one or all at once.
    func agree(_ text: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let full = Result { () throws(JSONParser.Failure) in try parser.parseObject(array: text) }
        let lazy = JWTClaims.make(payload: text, parser: parser)
        switch (full, lazy) {
        case (.success(let expected), .success(let claims)):
            #expect(claims.dictionary == expected, "\(String(decoding: text, as: UTF8.self))", sourceLocation: sourceLocation)
            for (name, value) in expected {
                #expect(claims[name] == value, "claim \(name)", sourceLocation: sourceLocation)
                #expect(claims.contains(name), sourceLocation: sourceLocation)
            }
            #expect(claims["no-such-claim"] == nil, sourceLocation: sourceLocation)
        case (.failure, .failure):
            break
        default:
            Issue.record("verdicts differ on \(String(decoding: text, as: UTF8.self)): full \(full), lazy \(lazy.map { _ in "accepted" })", sourceLocation: sourceLocation)
        }
    }

    static let documents: [String] = [
        #"{}"#, #" { } "#, #"{"exp":1}"#,
        #"{"iss":"https://kc.example/realms/master","exp":1767225660,"iat":1767225600,"aud":["a","b"],"realm_access":{"roles":["admin","x"]},"email_verified":true,"acr":"1","n":null,"f":-2.5e1}"#,
        // Duplicates: top level, nested, after a valid member, in an array of objects.
        #"{"exp":1,"exp":2}"#, #"{"a":{"b":1,"b":1}}"#, #"{"a":1,"b":2,"a":3}"#, #"{"a":[{"k":1},{"k":1,"k":2}]}"#,
        // Keys that only String equality can compare: escapes and non-ASCII (the Kelvin sign is canonically "K").
        #"{"iss":"a","\u0069ss":"b"}"#, #"{"K":1,"\u212A":2}"#, #"{"K":1,"K":2}"#, #"{"é":1,"é":2}"#, #"{"\u00e9":1,"e\u0301":2}"#,
        #"{"a\"b":1}"#, #"{"\ud83d\ude00":1}"#, #"{"a":{"\u0062":1,"b":2}}"#,
        // Long keys that share a prefix, or differ only in length or in their last byte.
        #"{"aaaaaaaaaa":1,"aaaaaaaaab":2,"aaaaaaaaa":3,"aaaaaa":4,"aaaaaaa":5}"#, #"{"aaaaaaaaaa":1,"aaaaaaaaaa":2}"#,
        #"{"abcdefg":1,"abcdefh":2}"#, #"{"abcdef":1,"abcdeg":2,"abcdef":3}"#,
        "{\"\(String(repeating: "k", count: 300))\":1,\"\(String(repeating: "k", count: 256))\":2}",
        "{\"\(String(repeating: "k", count: 300))\":1,\"\(String(repeating: "k", count: 300))\":2}",
        // Seventeen members, and seventeen with a duplicate.
        "{" + (0..<17).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}",
        "{" + (0..<17).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + ",\"k3\":0}",
        "{\"o\":{" + (0..<20).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}}",
        // Depth: at the bound (8) and one over.
        #"{"a":[[[[[[[1]]]]]]]}"#, #"{"a":[[[[[[[[1]]]]]]]]}"#, #"{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}"#,
        #"{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":1}}}}}}}}"#,
        // Strings: escapes, bad escapes, control characters, lone surrogates, non-ASCII values.
        #"{"s":"a\n\"\\\/\b\f\r\t\u0041"}"#, #"{"s":"\x"}"#, "{\"s\":\"a\u{01}\"}", #"{"s":"\ud800"}"#, #"{"s":"\udc00x"}"#,
        #"{"s":"héllo"}"#, #"{"s":"😀"}"#, #"{"s":"\u00"}"#, #"{"s":"abc}"#,
        // Numbers.
        #"{"n":-0}"#, #"{"n":01}"#, #"{"n":1.}"#, #"{"n":1e400}"#, #"{"n":-9223372036854775808}"#, #"{"n":9223372036854775808}"#,
        #"{"n":1E+2}"#, #"{"n":-}"#, #"{"n":.5}"#,
        // Structure.
        #"[]"#, #""x""#, #"1"#, #"null"#, #"{"a":1,}"#, #"{"a" 1}"#, #"{a:1}"#, #"{"a":1}x"#, #"{"a":1}}"#, #"{"a":tru}"#,
        #"{"a":[1,]}"#, #"{"a":[1 2]}"#, #"{"#, "", #"{"a":"#, #"{"a":[}"#,
    ]

    @Test("same verdict and same claims as the full parser on chosen documents")
    func chosen() {
        for document in Self.documents { agree(Array(document.utf8)) }
        agree([0x7B, 0x22, 0x73, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D])  // {"s":"\xC3(" }: invalid UTF-8 in a value
        agree([0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D])  // invalid UTF-8 in a key
    }

    @Test("same verdict and same claims as the full parser on 30,000 mutated documents")
    func mutated() {
        var random = SplitMix64(seed: 0x5EED_C1A1_0000_0001)
        let seeds = Self.documents.filter { (try? parser.parseObject(array: Array($0.utf8))) != nil }.map { Array($0.utf8) }
        let alphabet = Array(#"{}[]":,\ u0123456789abefnrtlsx.-+eE"#.utf8) + [0x80, 0xC3, 0xE2, 0xFF, 0x00, 0x0A]
        var accepted = 0
        for _ in 0..<30_000 {
            var document = seeds[Int(random.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + Int(random.next() % 3)) {
                let at = document.isEmpty ? 0 : Int(random.next() % UInt64(document.count))
                let byte = alphabet[Int(random.next() % UInt64(alphabet.count))]
                switch random.next() % 3 {
                case 0 where !document.isEmpty: document[at] = byte
                case 1: document.insert(byte, at: at)
                default: if !document.isEmpty { document.remove(at: at) }
                }
            }
            if (try? parser.parseObject(array: document)) != nil { accepted += 1 }
            agree(document)
        }
        // The mutations must exercise both verdicts, or the comparison proves little.
        #expect(accepted > 1_000 && accepted < 29_000, "accepted \(accepted)")
    }

    @Test("a token's unverified payload reads the same as JWTClaims and as a dictionary, and fails alike")
    func unverified() {
        let header = Base64URL.encode(Array(#"{"alg":"ES256","kid":"k"}"#.utf8))
        let payloads = [#"{"iss":"https://a.example","exp":1}"#, #"{"iss":"a","iss":"b"}"#, #"{"iss":"a","\u0069ss":"b"}"#, #"{"iss":1"#, #"[]"#]
        var tokens = payloads.map { header + "." + Base64URL.encode(Array($0.utf8)) + ".c2ln" }
        tokens += [header + ".e30=.c2ln", header + "..c2ln", "a.b", header + ".@@@.c2ln"]
        for token in tokens {
            let full = try? JWS.unverifiedClaims(token)
            let lazy = try? JWS.unverifiedJWTClaims(token)
            #expect(full == lazy?.dictionary, "\(token)")
            #expect(full?["iss"] == lazy?["iss"], "\(token)")
        }
        #expect((try? JWS.unverifiedJWTClaims(tokens[0]))?["iss"] == .string("https://a.example"))
    }

    @Test("dotted paths read nested claims; a dictionary round-trips")
    func paths() throws {
        let claims = try JWTClaims.make(payload: Array(#"{"realm_access":{"roles":["admin"]},"a.b":1,"x":{"y":{"z":"deep"}}}"#.utf8), parser: parser).get()
        #expect(claims.value(atPath: "realm_access.roles") == .array([.string("admin")]))
        #expect(claims.value(atPath: "x.y.z") == .string("deep"))
        #expect(claims.value(atPath: "realm_access.missing") == nil)
        #expect(claims.value(atPath: "x") == .object(["y": .object(["z": .string("deep")])]))
        // As JSONValue.value(atPath:) does: a dot always separates, so a key containing one is not reachable by path.
        #expect(claims.value(atPath: "a.b") == nil)
        #expect(claims["a.b"] == .int(1))
        #expect(claims["\u{212A}"] == nil)
        let kelvin = try JWTClaims.make(payload: Array(#"{"K":1}"#.utf8), parser: parser).get()
        // String equality is canonical equivalence: the Kelvin sign names the claim "K", as in a dictionary.
        #expect(kelvin["\u{212A}"] == .int(1))
        #expect(JWTClaims(["a": .int(1)])["a"] == .int(1))
    }
}
