extension JSONParser {
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

    /// Why `indexObject` stopped early.
    enum ScanStop: Error {
        /// The document is invalid, as the full parser would say.
        case invalid(JSONParser.Failure)
        /// A rule needs `String` semantics: the full parser must decide.
        case needsFullParse
    }
}

/// Validating without building (`indexObject`): every rule of the full parser, checked on the bytes.
extension JSONParser.Cursor {
    /// Skips one value, checking it as `parseValue` would.
    mutating func skipValue(depth: Int) throws(JSONParser.ScanStop) {
        guard index < count else { throw .invalid(fail()) }
        switch base[index] {
        case UInt8(ascii: "{"):
            var unused = [JSONParser.MemberRange]()
            return try skipObject(depth: depth + 1, members: &unused, keep: false)
        case UInt8(ascii: "["): return try skipArray(depth: depth + 1)
        default: break
        }
        do throws(JSONParser.Failure) {
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
    mutating func skipString() throws(JSONParser.Failure) -> Bool {
        let start = index
        var scan = index + 1
        while scan < count {
            // Eight bytes at a time while none of them is special (a quote, a backslash, a control
            // character or a non-ASCII byte); the byte loop below decides on the first word that has one.
            if scan + 8 <= count, !Self.hasSpecialByte(UnsafeRawPointer(base + scan).loadUnaligned(as: UInt64.self)) {
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
    mutating func skipObject(depth: Int, members: inout [JSONParser.MemberRange], keep: Bool = true) throws(JSONParser.ScanStop) {
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
            do throws(JSONParser.Failure) { plain = try skipString() } catch { throw .invalid(error) }
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
                members.append(JSONParser.MemberRange(
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
    mutating func skipArray(depth: Int) throws(JSONParser.ScanStop) {
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
}
