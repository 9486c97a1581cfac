extension JSONParser {
    /// Reads `count` bytes from `base`; every read is preceded by an explicit `index < count` check.
    struct Cursor {
        let base: UnsafePointer<UInt8>
        let count: Int
        let maxDepth: Int
        var index = 0

        init(base: UnsafePointer<UInt8>, count: Int, maxDepth: Int) {
            self.base = base
            self.count = count
            self.maxDepth = maxDepth
        }

        var atEnd: Bool { index >= count }

        func fail() -> Failure { .invalid(offset: index) }

        /// After an object's member or an array's element and the whitespace after it: true at `,` (another
        /// follows), false at `closer` (the container ends), both consumed; nil at anything else (invalid).
        @inline(__always)
        mutating func separator(closing closer: UInt8) -> Bool? {
            guard index < count else { return nil }
            let byte = base[index]
            guard byte == UInt8(ascii: ",") || byte == closer else { return nil }
            index += 1
            return byte == UInt8(ascii: ",")
        }

        @inline(__always)
        mutating func skipWhitespace() {
            while index < count {
                switch base[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        /// Matches the ASCII bytes of `literal` one by one, stopping (with the offset of) the first mismatch.
        mutating func expect(_ literal: StaticString) throws(Failure) {
            let bytes = literal.utf8Start
            for offset in 0..<literal.utf8CodeUnitCount {
                guard index < count, base[index] == bytes[offset] else { throw fail() }
                index += 1
            }
        }

        mutating func parseValue(depth: Int) throws(Failure) -> JSONValue {
            guard index < count else { throw fail() }
            switch base[index] {
            case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
            case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"):
                try expect("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expect("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expect("null")
                return .null
            default: return try parseNumber()
            }
        }

        mutating func parseObject(depth: Int) throws(Failure) -> JSONValue {
            // Room for a typical JWT claim set without rehashing while it grows: claims average about 32 bytes
            // a member (a Keycloak access token: 16 in 517 bytes), so one per 28 bytes leaves some margin.
            var members = ObjectMembers(capacity: depth == 1 ? min(max((count - index) / 28, 3), 32) : 3)
            try walkObject(depth: depth, into: &members)
            return .object(members.dictionary)
        }

        /// An object's members in order, at `{`.
        mutating func parseMembers(depth: Int) throws(Failure) -> [(key: String, value: JSONValue)] {
            var members = OrderedMembers()
            try walkObject(depth: depth, into: &members)
            return members.pairs
        }

        /// Reads one object, at `{`, handing each member to `members` (which refuses duplicates).
        mutating func walkObject<Members: MemberSink>(depth: Int, into members: inout Members) throws(Failure) {
            if depth > maxDepth { throw .tooDeep }
            index += 1
            skipWhitespace()
            if index < count, base[index] == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                guard index < count, base[index] == UInt8(ascii: "\"") else { throw fail() }
                let key = try parseString()
                skipWhitespace()
                guard index < count, base[index] == UInt8(ascii: ":") else { throw fail() }
                index += 1
                skipWhitespace()
                try members.add(key, try parseValue(depth: depth))
                skipWhitespace()
                guard let more = separator(closing: UInt8(ascii: "}")) else { throw fail() }
                if more { continue }
                return
            }
        }

        mutating func parseArray(depth: Int) throws(Failure) -> JSONValue {
            if depth > maxDepth { throw .tooDeep }
            index += 1
            var values = [JSONValue]()
            skipWhitespace()
            if index < count, base[index] == UInt8(ascii: "]") {
                index += 1
                return .array(values)
            }
            values.reserveCapacity(4)
            while true {
                skipWhitespace()
                values.append(try parseValue(depth: depth))
                skipWhitespace()
                guard let more = separator(closing: UInt8(ascii: "]")) else { throw fail() }
                if more { continue }
                return .array(values)
            }
        }
    }
}
