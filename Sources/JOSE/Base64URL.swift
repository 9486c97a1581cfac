/// Strict base64url (RFC 4648 §5) without padding, as JWS requires (RFC 7515 §2).
///
/// Decoding refuses padding, whitespace, characters outside the URL-safe alphabet,
/// impossible lengths and non-zero trailing bits, so that each value has exactly one encoding.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, char) in alphabet.enumerated() { table[Int(char)] = UInt8(index) }
        return table
    }()

    /// Encodes bytes as unpadded base64url.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out = [UInt8]()
        append(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the unpadded base64url encoding of `bytes` to `out` (no intermediate String).
    public static func append(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        if bytes.withContiguousStorageIfAvailable({ append(buffer: $0, to: &out) }) == nil {
            Array(bytes).withUnsafeBufferPointer { append(buffer: $0, to: &out) }
        }
    }

    private static func append(buffer input: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        let count = input.count
        out.reserveCapacity(out.count + (count * 4 + 2) / 3)
        alphabet.withUnsafeBufferPointer { table in
            var index = 0
            while index + 3 <= count {
                let b0 = input[index], b1 = input[index + 1], b2 = input[index + 2]
                out.append(table[Int(b0 >> 2)])
                out.append(table[Int((b0 & 0x03) << 4 | b1 >> 4)])
                out.append(table[Int((b1 & 0x0F) << 2 | b2 >> 6)])
                out.append(table[Int(b2 & 0x3F)])
                index += 3
            }
            if count - index == 1 {
                let b0 = input[index]
                out.append(table[Int(b0 >> 2)])
                out.append(table[Int((b0 & 0x03) << 4)])
            } else if count - index == 2 {
                let b0 = input[index], b1 = input[index + 1]
                out.append(table[Int(b0 >> 2)])
                out.append(table[Int((b0 & 0x03) << 4 | b1 >> 4)])
                out.append(table[Int((b1 & 0x0F) << 2)])
            }
        }
    }

    /// Decodes unpadded base64url; nil for anything that is not the canonical encoding of some bytes.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var text = String(text)
        return text.withUTF8 { decode(buffer: $0) }
    }

    /// Decodes unpadded base64url from ASCII bytes; nil for anything non-canonical.
    public static func decode(bytes input: some Collection<UInt8>) -> [UInt8]? {
        if let result = input.withContiguousStorageIfAvailable({ decode(buffer: $0) }) { return result }
        return Array(input).withUnsafeBufferPointer { decode(buffer: $0) }
    }

    private static func decode(buffer input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let count = input.count
        if count % 4 == 1 { return nil }
        var out = [UInt8]()
        out.reserveCapacity(count * 3 / 4)
        let valid = decodeTable.withUnsafeBufferPointer { table -> Bool in
            var accumulator: UInt32 = 0
            var bits: UInt32 = 0
            for char in input {
                let value = table[Int(char)]
                if value == 0xFF { return false }
                accumulator = accumulator << 6 | UInt32(value)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    out.append(UInt8(truncatingIfNeeded: accumulator >> bits))
                    accumulator &= (1 << bits) - 1
                }
            }
            // Leftover bits must be zero, or two strings would decode to the same bytes.
            return accumulator == 0
        }
        return valid ? out : nil
    }
}
