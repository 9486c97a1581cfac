import JOSE
import Testing

@Suite("JSON object writer") struct JSONObjectWriterTests {
    /// Strings that need escaping, non-ASCII text and the edges of integers: what a claim can carry.
    static let awkward = "a\"b\\c\nd\u{01}é😀</script>"

    @Test("members written in key order give exactly the bytes of serialising the same members as a dictionary")
    func sameBytesAsSerialized() {
        var writer = JSONObjectWriter(capacity: 16)  // small, so the buffer grows while writing
        writer.member("a", string: Self.awkward)
        writer.member("b", int: Int64.min)
        writer.member("b2", int: 0)
        writer.member("c", strings: [])
        writer.member("d", strings: ["x", Self.awkward])
        writer.member("e", .object(["z": .null, "y": .array([.bool(true), .double(1.5)])]))
        writer.member("e_", int: Int64.max)
        let expected: [String: JSONValue] = [
            "a": .string(Self.awkward), "b": .int(Int64.min), "b2": .int(0), "c": .array([]),
            "d": .array([.string("x"), .string(Self.awkward)]), "e": .object(["z": .null, "y": .array([.bool(true), .double(1.5)])]),
            "e_": .int(Int64.max),
        ]
        #expect(writer.bytes() == JSONValue.object(expected).serialized())
    }

    @Test("an empty object is {}; one member has no comma")
    func edges() {
        #expect(JSONObjectWriter().bytes() == Array("{}".utf8))
        var one = JSONObjectWriter()
        one.member("k", string: "v")
        #expect(one.bytes() == Array(#"{"k":"v"}"#.utf8))
    }

    @Test("a token signed from the writer carries its bytes as the payload and verifies")
    func signs() throws {
        var claims = JSONObjectWriter()
        claims.member("exp", int: 4_000_000_000)
        claims.member("sub", string: Self.awkward)
        let token = try JWS.sign(claims: claims, key: TestKeys.es256, type: "at+jwt")
        let payload = token.split(separator: ".")[1]
        #expect(Base64URL.decode(payload) == JSONValue.object(["exp": .int(4_000_000_000), "sub": .string(Self.awkward)]).serialized())
        let verified = try JWS.verify(token, using: TestKeys.es256.publicKey)
        #expect(verified.claims["sub"] == .string(Self.awkward))
        #expect(try JWS.unverifiedHeader(token)["typ"] == .string("at+jwt"))
    }
}
