// Fuzz target `json`: the strict JSON parser on arbitrary bytes, its serialiser, the byte-level validator
// JWTClaims relies on, and base64url. Invariants:
// - parsing never traps, through the buffer and the array entry points alike, with the same answer;
// - a parsed value serialises to JSON that parses back to the same value, and serialising is stable;
// - parseObject, parseMembers (a JWS header) and indexObject (a JWT payload) accept the same objects, with the
//   same members, and refuse the rest with the same failure; JWTClaims reads every claim as parseObject does;
// - base64url decodes what it encodes, and accepts only canonical text (each byte string has one encoding).
@testable import JOSE

private let parser = JSONParser(maxBytes: 1 << 16, maxDepth: 16)
/// Serialised output may be longer than the input (`1e-7` becomes `1e-07`): re-read it without a size bound.
private let reparser = JSONParser(maxBytes: 1 << 24, maxDepth: 16)

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    writeCorpusIfAsked { Seeds.jsonDocuments() }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    checkDocument(bytes)
    checkObject(bytes)
    checkBase64URL(bytes)
    return 0
}

private func checkDocument(_ bytes: UnsafeBufferPointer<UInt8>) {
    let parsed = Result { () throws(JSONParser.Failure) in try parser.parse(buffer: bytes) }
    let viaArray = Result { () throws(JSONParser.Failure) in try parser.parse(array: Array(bytes)) }
    require(parsed == viaArray, "buffer and array parses disagree: \(parsed) vs \(viaArray)")
    guard case .success(let value) = parsed else { return }
    let text = value.serialized()
    guard let again = try? reparser.parse(array: text) else {
        require(false, "serialised value does not parse: \(String(decoding: text, as: UTF8.self))")
        return
    }
    require(normalized(again) == normalized(value), "round trip changed the value: \(value) -> \(again)")
    require(again.serialized() == text, "serialisation is not stable: \(String(decoding: text, as: UTF8.self))")
    require(value.serializedString().utf8.elementsEqual(text), "serializedString and serialized disagree")
}

/// The three object readers must agree; failures are compared exactly when the document is an object at all
/// (for anything else parseObject reads a whole value first, parseMembers stops at its first byte).
private func checkObject(_ bytes: UnsafeBufferPointer<UInt8>) {
    let isObject = bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{")
    let full = Result { () throws(JSONParser.Failure) in try parser.parseObject(buffer: bytes) }
    let ordered = Result { () throws(JSONParser.Failure) in try parser.parseMembers(buffer: bytes) }
    switch (full, ordered) {
    case (.success(let object), .success(let members)):
        var byKey = [String: JSONValue]()
        for member in members {
            require(byKey.updateValue(member.value, forKey: member.key) == nil, "parseMembers kept a duplicate key \(member.key)")
        }
        require(byKey == object, "parseMembers and parseObject read different members")
    case (.failure(let a), .failure(let b)):
        if isObject { require(a == b, "parseObject fails with \(a), parseMembers with \(b)") }
    default:
        require(false, "parseObject \(full) but parseMembers \(ordered)")
    }

    switch parser.indexObject(buffer: bytes) {
    case .success(.members(let ranges)):
        guard case .success(let object) = full else {
            require(false, "indexObject accepted what parseObject refused: \(full)")
            return
        }
        require(ranges.count == object.count, "indexObject found \(ranges.count) members, parseObject \(object.count)")
        for range in ranges {
            let keyBytes = UnsafeBufferPointer(rebasing: bytes[Int(range.keyStart)..<Int(range.keyEnd)])
            require(keyBytes.allSatisfy { $0 >= 0x20 && $0 < 0x80 && $0 != UInt8(ascii: "\\") }, "indexObject kept a key that is not plain ASCII")
            let key = String(decoding: keyBytes, as: UTF8.self)
            let value = parser.parseMemberValue(buffer: UnsafeBufferPointer(rebasing: bytes[Int(range.valueStart)..<Int(range.valueEnd)]))
            require(value != nil && value == object[key], "member \(key): indexObject range gives \(String(describing: value)), parseObject \(String(describing: object[key]))")
        }
    case .success(.needsFullParse):
        break
    case .failure(let failure):
        guard case .failure(let expected) = full else {
            require(false, "indexObject refused (\(failure)) what parseObject accepted")
            return
        }
        if isObject { require(failure == expected, "indexObject fails with \(failure), parseObject with \(expected)") }
    }

    let claims = JWTClaims.make(payload: Array(bytes), parser: parser)
    switch (claims, full) {
    case (.success(let claims), .success(let object)):
        require(claims.dictionary == object, "JWTClaims.dictionary differs from parseObject")
        for (key, value) in object {
            require(claims[key] == value && claims.contains(key), "JWTClaims[\(key)] differs from parseObject")
        }
        for probe in ["exp", "é", "e\u{301}", "", "realm_access.roles", "a.b"] {
            require(claims[probe] == object[probe], "JWTClaims[\(probe)] differs from parseObject")
            require(claims.value(atPath: probe) == JSONValue.object(object).value(atPath: probe), "JWTClaims path \(probe) differs")
        }
    case (.failure(let a), .failure(let b)):
        if isObject { require(a == b, "JWTClaims fails with \(a), parseObject with \(b)") }
    default:
        require(false, "JWTClaims.make \(claims) but parseObject \(full)")
    }
}

private func checkBase64URL(_ bytes: UnsafeBufferPointer<UInt8>) {
    let encoded = Base64URL.encode(bytes)
    require(encoded.utf8.count == Base64URL.encodedCount(bytes.count), "encoded length")
    require(Base64URL.decode(encoded).map { $0.elementsEqual(bytes) } == true, "base64url does not decode what it encodes")
    var appended = [UInt8]()
    Base64URL.append(bytes, to: &appended)
    require(appended.elementsEqual(encoded.utf8), "append and encode disagree")
    if let decoded = Base64URL.decode(bytes: bytes) {
        require(Base64URL.encode(decoded).utf8.elementsEqual(bytes), "non-canonical base64url accepted")
    }
}
