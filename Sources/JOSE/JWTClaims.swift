/// A verified token's claims: its decoded payload, validated in full when the token is verified, with each
/// claim parsed only when it is read.
///
/// Verification must refuse a payload that is not valid JSON, has a duplicate key at any depth, or breaks
/// the parser's bounds, exactly as `JSONParser.parseObject` would; it does not need a dictionary of every
/// claim, most of which nobody reads (a Keycloak access token carries about 16). So the payload is checked
/// by `JSONParser.indexObject`, which builds nothing, and its top-level members are kept as byte ranges:
/// two allocations in all, instead of a hashed dictionary and a string for every key and value.
/// `self["exp"]` scans the (few) keys as bytes and parses that one value. A payload whose keys need `String`
/// semantics to compare (escapes, non-ASCII) or with more than 16 members is parsed into a dictionary
/// instead, by the full parser, which then decides.
public struct JWTClaims: Sendable {
    private enum Storage: Sendable {
        /// The payload and its top-level members.
        case indexed(bytes: [UInt8], members: [JSONParser.MemberRange])
        case parsed([String: JSONValue])
    }
    private let storage: Storage
    private let parser: JSONParser

    /// Claims that are already a dictionary (tests, tokens parsed elsewhere).
    public init(_ claims: [String: JSONValue]) {
        storage = .parsed(claims)
        parser = JSONParser()
    }

    private init(storage: Storage, parser: JSONParser) {
        self.storage = storage
        self.parser = parser
    }

    /// Checks `payload` (decoded JSON) as `parser.parseObject` would and keeps it, as described above.
    static func make(payload: [UInt8], parser: JSONParser) -> Result<JWTClaims, JSONParser.Failure> {
        let indexed = payload.withUnsafeBufferPointer { parser.indexObject(buffer: $0) }
        switch indexed {
        case .success(.members(let members)):
            return .success(JWTClaims(storage: .indexed(bytes: payload, members: members), parser: parser))
        case .success(.needsFullParse):
            return Result { () throws(JSONParser.Failure) in
                JWTClaims(storage: .parsed(try parser.parseObject(array: payload)), parser: parser)
            }
        case .failure(let failure):
            return .failure(failure)
        }
    }

    /// The claim named `name`, if the payload has it.
    public subscript(name: String) -> JSONValue? {
        switch storage {
        case .parsed(let claims):
            return claims[name]
        case .indexed(let bytes, let members):
            return bytes.withUnsafeBufferPointer { buffer -> JSONValue? in
                guard let member = Self.find(name, in: members, of: buffer) else { return nil }
                return value(of: member, in: buffer)
            }
        }
    }

    /// Whether the payload has a claim named `name`.
    public func contains(_ name: String) -> Bool {
        switch storage {
        case .parsed(let claims): claims[name] != nil
        case .indexed(let bytes, let members): bytes.withUnsafeBufferPointer { Self.find(name, in: members, of: $0) != nil }
        }
    }

    /// Every claim, as a dictionary (parses them all).
    public var dictionary: [String: JSONValue] {
        switch storage {
        case .parsed(let claims):
            return claims
        case .indexed(let bytes, let members):
            return bytes.withUnsafeBufferPointer { buffer in
                var claims = [String: JSONValue](minimumCapacity: members.count)
                for member in members {
                    let key = String(decoding: UnsafeBufferPointer(rebasing: buffer[Int(member.keyStart)..<Int(member.keyEnd)]), as: UTF8.self)
                    claims[key] = value(of: member, in: buffer)
                }
                return claims
            }
        }
    }

    /// Follows a dotted path (`realm_access.roles`): the first name is a claim, the rest are nested objects.
    public func value(atPath path: String) -> JSONValue? {
        guard let dot = path.utf8.firstIndex(of: UInt8(ascii: ".")) else { return self[path] }
        return self[String(path[..<dot])]?.value(atPath: String(path[path.utf8.index(after: dot)...]))
    }

    /// The member whose key is `name`. Indexed keys are plain ASCII, for which `String` equality is byte
    /// equality; a name that is not plain ASCII is compared as a `String` (canonical equivalence).
    private static func find(_ name: String, in members: [JSONParser.MemberRange], of buffer: UnsafeBufferPointer<UInt8>) -> JSONParser.MemberRange? {
        var name = name
        return name.withUTF8 { wanted -> JSONParser.MemberRange? in
            guard wanted.allSatisfy({ $0 < 0x80 }) else {
                let string = String(decoding: wanted, as: UTF8.self)
                return members.first { member in
                    String(decoding: UnsafeBufferPointer(rebasing: buffer[Int(member.keyStart)..<Int(member.keyEnd)]), as: UTF8.self) == string
                }
            }
            for member in members where Int(member.keyEnd - member.keyStart) == wanted.count {
                if buffer[Int(member.keyStart)..<Int(member.keyEnd)].elementsEqual(wanted) { return member }
            }
            return nil
        }
    }

    /// Parses a member's value, which `indexObject` has already checked: a failure here would mean the two
    /// disagree, and is a bug that must not turn into a missing claim (an absent `typ` or `nbf` can pass a
    /// check that a present one fails), so it stops the process.
    private func value(of member: JSONParser.MemberRange, in buffer: UnsafeBufferPointer<UInt8>) -> JSONValue {
        let range = Int(member.valueStart)..<Int(member.valueEnd)
        guard let value = parser.parseMemberValue(buffer: UnsafeBufferPointer(rebasing: buffer[range])) else {
            preconditionFailure("JWTClaims: a claim that passed validation does not parse")
        }
        return value
    }
}
