import JOSE
import Testing

@Suite("strict JSON") struct JSONParserTests {
    let parser = JSONParser(maxBytes: 4096, maxDepth: 8)

    @Test("parses the value kinds JWTs use")
    func parsesValues() throws {
        let value = try parser.parse(Array(#"{"a":1,"b":-2.5e1,"c":"x\u00e9\ud83d\ude00","d":[true,false,null],"e":{}}"#.utf8))
        #expect(value.objectValue?["a"] == .int(1))
        #expect(value.objectValue?["b"] == .double(-25))
        #expect(value.objectValue?["c"] == .string("xé😀"))
        #expect(value.objectValue?["d"] == .array([.bool(true), .bool(false), .null]))
        #expect(value.objectValue?["e"] == .object([:]))
    }

    @Test("a duplicate key is an error, not last-wins")
    func duplicateKeys() {
        #expect(throws: JSONParser.Failure.duplicateKey) { try parser.parse(Array(#"{"exp":1,"exp":2}"#.utf8)) }
        #expect(throws: JSONParser.Failure.duplicateKey) { try parser.parse(Array(#"{"a":{"b":1,"b":1}}"#.utf8)) }
    }

    @Test("malformed documents are refused", arguments: [
        "", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "01", "1.", ".5", "-", "+1", "1e", "tru", "nul",
        "\"abc", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\u{01}b\"", "{} {}", "{'a':1}", "NaN", "1e999",
        "{\"a\":1}x",
    ])
    func refusesMalformed(input: String) {
        #expect(throws: JSONParser.Failure.self) { try parser.parse(Array(input.utf8)) }
    }

    @Test("invalid UTF-8 inside a string is refused")
    func refusesInvalidUTF8() {
        #expect(throws: JSONParser.Failure.self) { try parser.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test("size and depth are bounded")
    func bounds() {
        #expect(throws: JSONParser.Failure.tooLarge) { try parser.parse([UInt8](repeating: 0x20, count: 5000)) }
        let deep = String(repeating: "[", count: 20) + String(repeating: "]", count: 20)
        #expect(throws: JSONParser.Failure.tooDeep) { try parser.parse(Array(deep.utf8)) }
    }

    @Test("serialisation sorts keys and escapes control characters")
    func serialises() {
        let value = JSONValue.object(["b": .string("q\"\\\n\u{01}"), "a": .int(-3), "c": .double(1.5)])
        #expect(value.serializedString() == #"{"a":-3,"b":"q\"\\\n\u0001","c":1.5}"#)
    }
}

@Suite("AES-256-GCM through OpenSSL") struct AESGCMTests {
    @Test("round trip; any flipped byte, another key or another aad fails to open")
    func roundTrip() {
        let key = Crypto.randomBytes(32)
        for size in [0, 1, 15, 16, 17, 1000] {
            let plaintext = Crypto.randomBytes(size)
            let sealed = Crypto.sealAESGCM(key: key, plaintext: plaintext, aad: Array("challenge-1".utf8))
            #expect(sealed.count == size + 28)
            #expect(Crypto.openAESGCM(key: key, sealed: sealed, aad: Array("challenge-1".utf8)) == plaintext)
            #expect(Crypto.openAESGCM(key: key, sealed: sealed, aad: Array("challenge-2".utf8)) == nil)
            #expect(Crypto.openAESGCM(key: Crypto.randomBytes(32), sealed: sealed, aad: Array("challenge-1".utf8)) == nil)
            for index in [0, 12, sealed.count - 1] {
                var tampered = sealed
                tampered[index] ^= 0x01
                #expect(Crypto.openAESGCM(key: key, sealed: tampered, aad: Array("challenge-1".utf8)) == nil, "byte \(index)")
            }
        }
        #expect(Crypto.sealAESGCM(key: key, plaintext: [1, 2], aad: []) != Crypto.sealAESGCM(key: key, plaintext: [1, 2], aad: []), "fresh nonce")
    }
}
