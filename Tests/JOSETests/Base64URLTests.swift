import JOSE
import Testing

@Suite("base64url") struct Base64URLTests {
    @Test("RFC 4648 vectors round-trip without padding")
    func vectors() {
        let cases: [(String, String)] = [
            ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy"),
        ]
        for (plain, encoded) in cases {
            #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
            #expect(Base64URL.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(Base64URL.decode("-_-_") == [0xFB, 0xFF, 0xBF])
    }

    @Test("non-canonical input is refused", arguments: [
        "Zg==", "Zm8=", "Zm 9v", "Zm9v\n", "Zm+v", "Zm/v", "Z", "Zh", "Zm9", "Zm9vY", "é", "Zm9v=", "\u{0}",
    ])
    func refusesNonCanonical(input: String) {
        // "Zh" has non-zero trailing bits (canonical is "Zg"); "Zm9" likewise ("Zm8").
        #expect(Base64URL.decode(input) == nil)
    }

    @Test("every byte string round-trips")
    func roundTrip() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
    }
}
