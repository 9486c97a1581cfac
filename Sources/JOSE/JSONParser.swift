/// A strict RFC 8259 parser for token headers, claims and JWKS documents.
///
/// Stricter than Foundation on purpose: a duplicate object key is an error (two parsers
/// must never disagree on a claim), and input size and nesting depth are bounded.
public struct JSONParser: Sendable {
    /// Why a document was refused.
    public enum Failure: Error, Equatable, Sendable {
        case tooLarge
        case tooDeep
        case duplicateKey
        case invalid(offset: Int)
    }

    /// Largest document accepted, in bytes.
    public var maxBytes: Int
    /// Deepest nesting of arrays and objects accepted.
    public var maxDepth: Int

    /// A parser with the given bounds.
    public init(maxBytes: Int = 1 << 20, maxDepth: Int = 32) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
    }

    /// Parses one JSON document; trailing non-whitespace is an error.
    public func parse(_ bytes: some Collection<UInt8>) throws(Failure) -> JSONValue {
        if let result = bytes.withContiguousStorageIfAvailable({ parseResult(buffer: $0) }) { return try result.get() }
        return try parse(array: Array(bytes))
    }

    /// Parses one JSON document held in an array, without copying it.
    public func parse(array bytes: [UInt8]) throws(Failure) -> JSONValue {
        try bytes.withUnsafeBufferPointer { parseResult(buffer: $0) }.get()
    }

    /// Parses one JSON document held in contiguous memory, without copying it.
    public func parse(buffer bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> JSONValue {
        try parseResult(buffer: bytes).get()
    }

    /// Parses a document that must be a JSON object.
    public func parseObject(_ bytes: some Collection<UInt8>) throws(Failure) -> [String: JSONValue] {
        guard case .object(let members) = try parse(bytes) else { throw .invalid(offset: 0) }
        return members
    }

    /// Parses a JSON object held in an array, without copying it.
    public func parseObject(array bytes: [UInt8]) throws(Failure) -> [String: JSONValue] {
        guard case .object(let members) = try parse(array: bytes) else { throw .invalid(offset: 0) }
        return members
    }

    /// Parses a JSON object held in contiguous memory, without copying it.
    public func parseObject(buffer bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> [String: JSONValue] {
        guard case .object(let members) = try parse(buffer: bytes) else { throw .invalid(offset: 0) }
        return members
    }

    /// Parses a JSON object held in contiguous memory into its members, in document order, without building
    /// a dictionary (for small objects read once, such as a JWS header). Duplicate keys are refused, as by
    /// `parseObject`; nested values are parsed as usual.
    public func parseMembers(buffer bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> [(key: String, value: JSONValue)] {
        try document(bytes) { (cursor) throws(Failure) in
            guard cursor.index < cursor.count, cursor.base[cursor.index] == UInt8(ascii: "{") else { throw .invalid(offset: cursor.index) }
            return try cursor.parseMembers(depth: 1)
        }.get()
    }

    /// Validates a JSON object exactly as `parseObject(buffer:)` does (same grammar, bounds, UTF-8 and duplicate
    /// key rules) without building it, and returns its top-level members as byte ranges of `bytes`: `.members`.
    /// Creates no strings for plain ASCII text. Returns `.needsFullParse` when a rule cannot be checked on bytes
    /// alone (an object key with an escape or non-ASCII text, whose equality is `String`'s, or an object with
    /// more than 16 members); the caller then parses the document with `parseObject`, which decides.
    func indexObject(buffer bytes: UnsafeBufferPointer<UInt8>) -> Result<ObjectIndex, Failure> {
        var index = ObjectIndex.members([])
        let checked = document(bytes) { (cursor) throws(Failure) in
            guard cursor.index < cursor.count, cursor.base[cursor.index] == UInt8(ascii: "{") else { throw cursor.fail() }
            var members = [MemberRange]()
            members.reserveCapacity(16)
            do throws(ScanStop) {
                try cursor.skipObject(depth: 1, members: &members)
                index = .members(members)
            } catch {
                switch error {
                case .invalid(let failure): throw failure
                case .needsFullParse:
                    // Not a verdict: the full parser reads the whole document again.
                    index = .needsFullParse
                    cursor.index = cursor.count
                }
            }
        }
        return checked.map { index }
    }

    /// Where `indexObject` found an object's members.
    enum ObjectIndex {
        case members([MemberRange])
        case needsFullParse
    }

    /// A member's key (without quotes) and its value, as byte offsets.
    struct MemberRange: Sendable {
        var keyStart: Int32
        var keyEnd: Int32
        var valueStart: Int32
        var valueEnd: Int32
    }

    /// Parses one value known to be valid (a range `indexObject` returned), at the nesting depth of a
    /// top-level member, so that the depth bound counts as in a whole-document parse.
    func parseMemberValue(buffer bytes: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        var empty: UInt8 = 0
        return withUnsafePointer(to: &empty) { placeholder in
            var cursor = Cursor(base: bytes.baseAddress ?? placeholder, count: bytes.count, maxDepth: maxDepth)
            guard let value = try? cursor.parseValue(depth: 1), cursor.atEnd else { return nil }
            return value
        }
    }

    private func parseResult(buffer: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, Failure> {
        document(buffer) { (cursor) throws(Failure) in try cursor.parseValue(depth: 0) }
    }

    /// One whole document: size bound, whitespace around `parse`, nothing after it.
    @inline(__always)
    private func document<T>(_ buffer: UnsafeBufferPointer<UInt8>, _ parse: (inout Cursor) throws(Failure) -> T) -> Result<T, Failure> {
        if buffer.count > maxBytes { return .failure(.tooLarge) }
        // A non-nil base even for empty input, so the cursor can use plain pointer arithmetic.
        var empty: UInt8 = 0
        return withUnsafePointer(to: &empty) { placeholder in
            var cursor = Cursor(base: buffer.baseAddress ?? placeholder, count: buffer.count, maxDepth: maxDepth)
            do throws(Failure) {
                cursor.skipWhitespace()
                let value = try parse(&cursor)
                cursor.skipWhitespace()
                guard cursor.atEnd else { throw .invalid(offset: cursor.index) }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
    }

    /// Reads `count` bytes from `base`; every read is preceded by an explicit `index < count` check.
    private struct Cursor {
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

        mutating func parseHex4() throws(Failure) -> UInt32 {
            guard index + 4 <= count else { throw fail() }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = base[index]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw fail()
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        /// A String from raw bytes that must be valid UTF-8. ASCII (the common case) skips the
        /// generic validator; anything else goes through the standard library's strict validation.
        @inline(__always)
        static func makeString(_ bytes: UnsafeBufferPointer<UInt8>, ascii: Bool) -> String? {
            if ascii { return String(decoding: bytes, as: UTF8.self) }
            return String(validating: bytes, as: UTF8.self)
        }

        mutating func parseString() throws(Failure) -> String {
            index += 1
            // Fast path: no escapes before the closing quote (the common case for JWT claims).
            var scan = index
            var high: UInt8 = 0
            while scan < count {
                let byte = base[scan]
                if byte == UInt8(ascii: "\"") {
                    let bytes = UnsafeBufferPointer(start: base + index, count: scan - index)
                    guard let string = Cursor.makeString(bytes, ascii: high < 0x80) else { throw fail() }
                    index = scan + 1
                    return string
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
                high |= byte
                scan += 1
            }
            var out = [UInt8]()
            out.reserveCapacity(scan - index + 16)
            while true {
                guard index < count else { throw fail() }
                let byte = base[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    guard let string = out.withUnsafeBufferPointer({ String(validating: $0, as: UTF8.self) }) else { throw fail() }
                    return string
                case UInt8(ascii: "\\"):
                    guard index < count else { throw fail() }
                    let escape = base[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try parseHex4()
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard index + 2 <= count, base[index] == UInt8(ascii: "\\"),
                                base[index + 1] == UInt8(ascii: "u")
                            else { throw fail() }
                            index += 2
                            let low = try parseHex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw fail() }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(scalar) {
                            throw fail()
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { throw fail() }
                        out.append(contentsOf: UTF8.encode(unicode)!)
                    default: throw fail()
                    }
                case 0..<0x20: throw fail()
                default: out.append(byte)
                }
            }
        }

        // MARK: Validating without building (indexObject)

        /// Skips one value, checking it as `parseValue` would.
        mutating func skipValue(depth: Int) throws(ScanStop) {
            guard index < count else { throw .invalid(fail()) }
            switch base[index] {
            case UInt8(ascii: "{"):
                var unused = [MemberRange]()
                return try skipObject(depth: depth + 1, members: &unused, keep: false)
            case UInt8(ascii: "["): return try skipArray(depth: depth + 1)
            default: break
            }
            do throws(Failure) {
                switch base[index] {
                case UInt8(ascii: "\""): _ = try skipString()
                case UInt8(ascii: "t"): try expect("true")
                case UInt8(ascii: "f"): try expect("false")
                case UInt8(ascii: "n"): try expect("null")
                default: _ = try parseNumber()
                }
            } catch {
                throw .invalid(error)
            }
        }

        /// Skips a string at its opening quote; true if it is plain ASCII without escapes (its bytes are its
        /// value). Anything else goes through `parseString`, so it is checked by the same code.
        mutating func skipString() throws(Failure) -> Bool {
            let start = index
            var scan = index + 1
            while scan < count {
                // Eight bytes at a time while none of them is special (a quote, a backslash, a control
                // character or a non-ASCII byte); the byte loop below decides on the first word that has one.
                if scan + 8 <= count, !Cursor.hasSpecialByte(UnsafeRawPointer(base + scan).loadUnaligned(as: UInt64.self)) {
                    scan += 8
                    continue
                }
                let byte = base[scan]
                if byte == UInt8(ascii: "\"") {
                    index = scan + 1
                    return true
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x80 { break }
                scan += 1
            }
            index = start
            _ = try parseString()
            return false
        }

        /// Whether any of the eight bytes in `word` is a quote, a backslash, below 0x20 or above 0x7F. Exact:
        /// `(v - 0x01…) & ~v & 0x80…` is non-zero exactly when some byte of `v` is zero, and
        /// `(v - 0x20…) & ~v & 0x80…` exactly when some byte is below 0x20 (bytes at or above 0x80 are
        /// caught by the high-bit test first, so no borrow crosses a byte that matters).
        @inline(__always)
        static func hasSpecialByte(_ word: UInt64) -> Bool {
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            let quote = word ^ 0x2222_2222_2222_2222, backslash = word ^ 0x5C5C_5C5C_5C5C_5C5C
            let zeroInQuote = (quote &- ones) & ~quote, zeroInBackslash = (backslash &- ones) & ~backslash
            let control = (word &- 0x2020_2020_2020_2020) & ~word
            return (word | zeroInQuote | zeroInBackslash | control) & highs != 0
        }

        /// Skips an object at `{`, checking it as `walkObject` would. Keys are compared as bytes, which is
        /// `String` equality only for plain ASCII keys, so any other key (or more than 16 members, where
        /// comparing every pair would stop being cheap) ends the scan with `needsFullParse`. With `keep`,
        /// the members are appended to `members`.
        mutating func skipObject(depth: Int, members: inout [MemberRange], keep: Bool = true) throws(ScanStop) {
            if depth > maxDepth { throw .invalid(.tooDeep) }
            index += 1
            skipWhitespace()
            if index < count, base[index] == UInt8(ascii: "}") {
                index += 1
                return
            }
            // For the duplicate check, each key of this object as its start and a fingerprint: its length (16
            // bits) and first six bytes. Keys of up to six bytes (most claim names) are equal exactly when their
            // fingerprints are; longer ones with equal fingerprints (so equal lengths) are compared byte by byte.
            var keys: (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            var fingerprints: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            var found = 0
            while true {
                skipWhitespace()
                guard index < count, base[index] == UInt8(ascii: "\"") else { throw .invalid(fail()) }
                let keyStart = index + 1
                let plain: Bool
                do throws(Failure) { plain = try skipString() } catch { throw .invalid(error) }
                guard plain, found < 16 else { throw .needsFullParse }
                let keyLength = index - 1 - keyStart
                guard keyLength <= 0xFFFF else { throw .needsFullParse }
                var fingerprint = UInt64(truncatingIfNeeded: keyLength)
                for offset in 0..<min(keyLength, 6) {
                    fingerprint |= UInt64(base[keyStart + offset]) << UInt64(8 * (offset + 2))
                }
                let duplicate = withUnsafeBytes(of: &fingerprints) { prints in
                    let prints = prints.bindMemory(to: UInt64.self)
                    for other in 0..<found where prints[other] == fingerprint {
                        if keyLength <= 6 { return true }
                        let otherStart = withUnsafeBytes(of: &keys) { $0.bindMemory(to: Int.self)[other] }
                        let earlier = UnsafeBufferPointer(start: base + otherStart, count: keyLength)
                        if earlier.elementsEqual(UnsafeBufferPointer(start: base + keyStart, count: keyLength)) { return true }
                    }
                    return false
                }
                // A duplicate is refused whatever follows it, as walkObject refuses it once the value is read:
                // read the value first so that an invalid value is reported as the full parser reports it.
                withUnsafeMutableBytes(of: &keys) { $0.bindMemory(to: Int.self)[found] = keyStart }
                withUnsafeMutableBytes(of: &fingerprints) { $0.bindMemory(to: UInt64.self)[found] = fingerprint }
                found += 1
                skipWhitespace()
                guard index < count, base[index] == UInt8(ascii: ":") else { throw .invalid(fail()) }
                index += 1
                skipWhitespace()
                let valueStart = index
                try skipValue(depth: depth)
                if duplicate { throw .invalid(.duplicateKey) }
                if keep {
                    members.append(MemberRange(
                        keyStart: Int32(truncatingIfNeeded: keyStart), keyEnd: Int32(truncatingIfNeeded: keyStart + keyLength),
                        valueStart: Int32(truncatingIfNeeded: valueStart), valueEnd: Int32(truncatingIfNeeded: index)))
                }
                skipWhitespace()
                guard let more = separator(closing: UInt8(ascii: "}")) else { throw .invalid(fail()) }
                if more { continue }
                return
            }
        }

        /// Skips an array at `[`, checking it as `parseArray` would.
        mutating func skipArray(depth: Int) throws(ScanStop) {
            if depth > maxDepth { throw .invalid(.tooDeep) }
            index += 1
            skipWhitespace()
            if index < count, base[index] == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                try skipValue(depth: depth)
                skipWhitespace()
                guard let more = separator(closing: UInt8(ascii: "]")) else { throw .invalid(fail()) }
                if more { continue }
                return
            }
        }

        @inline(__always)
        func isDigit(_ at: Int) -> Bool {
            at < count && base[at] &- UInt8(ascii: "0") < 10
        }

        mutating func parseNumber() throws(Failure) -> JSONValue {
            let start = index
            var isInteger = true
            let negative = index < count && base[index] == UInt8(ascii: "-")
            if negative { index += 1 }
            guard index < count else { throw fail() }
            // Accumulated as a negative number so that Int64.min fits; nil once it overflows.
            var magnitude: Int64? = 0
            if base[index] == UInt8(ascii: "0") {
                index += 1
            } else if isDigit(index) {
                var value: Int64 = 0
                var overflow = false
                while isDigit(index) {
                    if !overflow {
                        let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                        let (next, o2) = times10.subtractingReportingOverflow(Int64(base[index] &- UInt8(ascii: "0")))
                        overflow = o1 || o2
                        value = next
                    }
                    index += 1
                }
                magnitude = overflow ? nil : value
            } else {
                throw fail()
            }
            if index < count, base[index] == UInt8(ascii: ".") {
                isInteger = false
                index += 1
                let digits = index
                while isDigit(index) { index += 1 }
                if index == digits { throw fail() }
            }
            if index < count, base[index] == UInt8(ascii: "e") || base[index] == UInt8(ascii: "E") {
                isInteger = false
                index += 1
                if index < count, base[index] == UInt8(ascii: "+") || base[index] == UInt8(ascii: "-") { index += 1 }
                let digits = index
                while isDigit(index) { index += 1 }
                if index == digits { throw fail() }
            }
            if isInteger, let negated = magnitude {
                if negative { return .int(negated) }
                if negated != .min { return .int(-negated) }
            }
            let text = String(decoding: UnsafeBufferPointer(start: base + start, count: index - start), as: UTF8.self)
            guard let value = Double(text), value.isFinite else { throw fail() }
            return .double(value)
        }
    }
}

/// Why `indexObject` stopped early.
private enum ScanStop: Error {
    /// The document is invalid, as the full parser would say.
    case invalid(JSONParser.Failure)
    /// A rule needs `String` semantics: the full parser must decide.
    case needsFullParse
}

/// Where `walkObject` puts an object's members; a duplicate key is refused.
private protocol MemberSink {
    mutating func add(_ key: String, _ value: JSONValue) throws(JSONParser.Failure)
}

/// Members as a dictionary (claims, nested objects).
private struct ObjectMembers: MemberSink {
    var dictionary: [String: JSONValue]

    init(capacity: Int) { dictionary = .init(minimumCapacity: capacity) }

    mutating func add(_ key: String, _ value: JSONValue) throws(JSONParser.Failure) {
        if dictionary.updateValue(value, forKey: key) != nil { throw .duplicateKey }
    }
}

/// Members in document order (a JWS header). Duplicates are found by comparing keys, cheap for the few
/// members of a header; past 16 members a set takes over, so a hostile object stays linear.
private struct OrderedMembers: MemberSink {
    var pairs = [(key: String, value: JSONValue)]()
    private var seen: Set<String>?

    mutating func add(_ key: String, _ value: JSONValue) throws(JSONParser.Failure) {
        if seen == nil, pairs.count == 16 { seen = Set(pairs.map(\.key)) }
        if seen != nil {
            if seen!.insert(key).inserted == false { throw .duplicateKey }
        } else if pairs.contains(where: { $0.key == key }) {
            throw .duplicateKey
        }
        if pairs.isEmpty { pairs.reserveCapacity(4) }
        pairs.append((key, value))
    }
}
