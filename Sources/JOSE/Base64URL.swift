/// Strict base64url (RFC 4648 §5) without padding, as JWS requires (RFC 7515 §2).
///
/// Decoding refuses padding, whitespace, characters outside the URL-safe alphabet,
/// impossible lengths and non-zero trailing bits, so that each value has exactly one encoding.
public enum Base64URL {
    /// The 64 alphabet bytes, allocated once and never freed (read-only after initialisation).
    nonisolated(unsafe) private static let encodeTable: UnsafePointer<UInt8> = {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 64)
        table.initialize(from: alphabet, count: 64)
        return UnsafePointer(table)
    }()

    /// 256 entries: the 6-bit value of an alphabet byte, 0xFF for every other byte.
    nonisolated(unsafe) private static let decodeTable: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        table.initialize(repeating: 0xFF, count: 256)
        for index in 0..<64 { table[Int(encodeTable[index])] = UInt8(index) }
        return UnsafePointer(table)
    }()

    /// Four 256-entry tables, one per position in a group of four characters: the 6-bit value already shifted
    /// into place (18, 12, 6, 0), or `invalidBit` for a byte outside the alphabet. ORing the four entries of a
    /// group gives its 24 bits, and bit 24 set if any byte was invalid.
    nonisolated(unsafe) private static let shiftedTables: UnsafePointer<UInt32> = {
        let tables = UnsafeMutablePointer<UInt32>.allocate(capacity: 4 * 256)
        for position in 0..<4 {
            for byte in 0..<256 {
                let value = decodeTable[byte]
                tables[position * 256 + byte] = value == 0xFF ? invalidBit : UInt32(value) << (18 - 6 * position)
            }
        }
        return UnsafePointer(tables)
    }()
    private static let invalidBit: UInt32 = 1 << 24

    /// Length of the unpadded encoding of `count` bytes.
    @inline(__always)
    static func encodedCount(_ count: Int) -> Int {
        let rest = count % 3
        return count / 3 * 4 + (rest == 0 ? 0 : rest + 1)
    }

    /// Length of the bytes an unpadded encoding of `count` characters decodes to; nil for an impossible length.
    @inline(__always)
    static func decodedCount(_ count: Int) -> Int? {
        let rest = count % 4
        if rest == 1 { return nil }
        return count / 4 * 3 + (rest == 0 ? 0 : rest - 1)
    }

    /// Encodes bytes as unpadded base64url.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        if let result = bytes.withContiguousStorageIfAvailable({ encodeString(buffer: $0) }) { return result }
        return Array(bytes).withUnsafeBufferPointer { encodeString(buffer: $0) }
    }

    private static func encodeString(buffer input: UnsafeBufferPointer<UInt8>) -> String {
        let length = encodedCount(input.count)
        if length == 0 { return "" }
        return String(unsafeUninitializedCapacity: length) { out in
            encode(input, into: out.baseAddress!)
        }
    }

    /// Appends the unpadded base64url encoding of `bytes` to `out` (no intermediate String).
    public static func append(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        if bytes.withContiguousStorageIfAvailable({ append(buffer: $0, to: &out) }) == nil {
            Array(bytes).withUnsafeBufferPointer { append(buffer: $0, to: &out) }
        }
    }

    private static func append(buffer input: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        let length = encodedCount(input.count)
        if length == 0 { return }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: length))
        out.withUnsafeMutableBufferPointer { buffer in
            _ = encode(input, into: buffer.baseAddress! + start)
        }
    }

    /// Writes the encoding of `input` (exactly `encodedCount(input.count)` bytes) to `out`; returns that count.
    @discardableResult
    static func encode(_ input: UnsafeBufferPointer<UInt8>, into out: UnsafeMutablePointer<UInt8>) -> Int {
        let count = input.count
        guard count > 0, let source = input.baseAddress else { return 0 }
        let table = encodeTable
        var index = 0
        var target = out
        while index + 3 <= count {
            let word = UInt32(source[index]) << 16 | UInt32(source[index + 1]) << 8 | UInt32(source[index + 2])
            target[0] = table[Int(word >> 18)]
            target[1] = table[Int(word >> 12 & 0x3F)]
            target[2] = table[Int(word >> 6 & 0x3F)]
            target[3] = table[Int(word & 0x3F)]
            target += 4
            index += 3
        }
        switch count - index {
        case 1:
            let b0 = source[index]
            target[0] = table[Int(b0 >> 2)]
            target[1] = table[Int((b0 & 0x03) << 4)]
            target += 2
        case 2:
            let b0 = source[index], b1 = source[index + 1]
            target[0] = table[Int(b0 >> 2)]
            target[1] = table[Int((b0 & 0x03) << 4 | b1 >> 4)]
            target[2] = table[Int((b1 & 0x0F) << 2)]
            target += 3
        default:
            break
        }
        return target - out
    }

    /// Decodes unpadded base64url; nil for anything that is not the canonical encoding of some bytes.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        if let result = text.utf8.withContiguousStorageIfAvailable({ decode(buffer: $0) }) { return result }
        var text = String(text)
        return text.withUTF8 { decode(buffer: $0) }
    }

    /// Decodes unpadded base64url from ASCII bytes; nil for anything non-canonical.
    public static func decode(bytes input: some Collection<UInt8>) -> [UInt8]? {
        if let result = input.withContiguousStorageIfAvailable({ decode(buffer: $0) }) { return result }
        return Array(input).withUnsafeBufferPointer { decode(buffer: $0) }
    }

    static func decode(buffer input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard let length = decodedCount(input.count) else { return nil }
        var valid = true
        let out = [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            if length > 0 {
                valid = decode(input, into: buffer.baseAddress!)
            }
            initialized = valid ? length : 0
        }
        return valid ? out : nil
    }

    /// Decodes `input` into `out`, which must hold `decodedCount(input.count)` bytes.
    /// False for an impossible length, a byte outside the alphabet, or non-zero trailing bits
    /// (two strings must never decode to the same bytes). `out` may be partly written on failure.
    static func decode(_ input: UnsafeBufferPointer<UInt8>, into out: UnsafeMutablePointer<UInt8>) -> Bool {
        let count = input.count
        if count % 4 == 1 { return false }
        guard count > 0, let source = input.baseAddress else { return true }
        let table = decodeTable
        let shifted = shiftedTables
        var index = 0
        var target = out
        /// The 24 bits of the group at `index`, bit 24 set if any of its bytes is outside the alphabet.
        @inline(__always) func group(_ index: Int) -> UInt32 {
            shifted[Int(source[index])] | shifted[256 + Int(source[index + 1])]
                | shifted[512 + Int(source[index + 2])] | shifted[768 + Int(source[index + 3])]
        }
        // While more input follows this group, at least one more output byte does too: the group's 3 bytes
        // are written with one 4-byte store whose last byte the next group overwrites.
        while index + 4 < count {
            let word = group(index)
            if word & invalidBit != 0 { return false }
            UnsafeMutableRawPointer(target).storeBytes(of: (word << 8).bigEndian, as: UInt32.self)
            target += 3
            index += 4
        }
        if index + 4 == count {
            let word = group(index)
            if word & invalidBit != 0 { return false }
            target[0] = UInt8(truncatingIfNeeded: word >> 16)
            target[1] = UInt8(truncatingIfNeeded: word >> 8)
            target[2] = UInt8(truncatingIfNeeded: word)
            return true
        }
        switch count - index {
        case 2:
            let a = UInt32(table[Int(source[index])]), b = UInt32(table[Int(source[index + 1])])
            if (a | b) & 0xC0 != 0 { return false }
            // 12 bits carry 8: the 4 leftover bits must be zero.
            if b & 0x0F != 0 { return false }
            target[0] = UInt8(truncatingIfNeeded: a << 2 | b >> 4)
        case 3:
            let a = UInt32(table[Int(source[index])]), b = UInt32(table[Int(source[index + 1])])
            let c = UInt32(table[Int(source[index + 2])])
            if (a | b | c) & 0xC0 != 0 { return false }
            // 18 bits carry 16: the 2 leftover bits must be zero.
            if c & 0x03 != 0 { return false }
            let word = a << 12 | b << 6 | c
            target[0] = UInt8(truncatingIfNeeded: word >> 10)
            target[1] = UInt8(truncatingIfNeeded: word >> 2)
        default:
            break
        }
        return true
    }
}
