/// Serialisation: deterministic bytes, object keys in UTF-8 byte order.
extension JSONValue {
    /// Serialises with object keys sorted, so equal values give equal bytes.
    public func serialized() -> [UInt8] {
        var writer = ByteWriter(capacity: 512)
        write(to: &writer)
        return writer.withBytes { Array($0) }
    }

    /// Serialises into a String.
    public func serializedString() -> String {
        var writer = ByteWriter(capacity: 512)
        write(to: &writer)
        return writer.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    func write(to out: inout ByteWriter) {
        switch self {
        case .null: out.append("null")
        case .bool(let value): out.append(value ? "true" : "false")
        case .int(let value): out.appendInteger(value)
        case .double(let value):
            if !value.isFinite {
                out.append("null")
            } else if value == value.rounded(), abs(value) < 9.0e15 {
                out.appendInteger(Int64(value))
            } else {
                var text = String(value)
                text.withUTF8 { out.append($0) }
            }
        case .string(let value): JSONValue.writeString(value, to: &out)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            var first = true
            for value in values {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            JSONValue.writeMembers(members, to: &out)
            out.append(UInt8(ascii: "}"))
        }
    }

    /// One member to sort: the first 8 key bytes (big-endian, zero-padded) and where the member is.
    private struct SortEntry {
        var prefix: UInt64
        var index: Dictionary<String, JSONValue>.Index
    }

    /// Writes the members in the UTF-8 byte order of their keys: deterministic, cheaper than String's
    /// Unicode-aware comparison, and the order RFC 7638 asks for. Sorts positions, not (key, value) pairs.
    private static func writeMembers(_ members: [String: JSONValue], to out: inout ByteWriter) {
        let count = members.count
        if count == 0 { return }
        withUnsafeTemporaryAllocation(of: SortEntry.self, capacity: count) { entries in
            var filled = 0
            var index = members.startIndex
            while index != members.endIndex {
                entries.initializeElement(at: filled, to: SortEntry(prefix: keyPrefix(members[index].key), index: index))
                filled += 1
                index = members.index(after: index)
            }
            // Insertion sort: member counts are small; a full comparison only when the 8-byte prefixes tie.
            for position in 1..<max(count, 1) {
                let entry = entries[position]
                var hole = position
                while hole > 0 && precedes(entry, entries[hole - 1], in: members) {
                    entries[hole] = entries[hole - 1]
                    hole -= 1
                }
                entries[hole] = entry
            }
            for position in 0..<count {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                let member = members[entries[position].index]
                writeString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                member.value.write(to: &out)
            }
            entries.baseAddress!.deinitialize(count: count)
        }
    }

    @inline(__always)
    private static func precedes(_ a: SortEntry, _ b: SortEntry, in members: [String: JSONValue]) -> Bool {
        if a.prefix != b.prefix { return a.prefix < b.prefix }
        return utf8Precedes(members[a.index].key, members[b.index].key)
    }

    /// The first 8 UTF-8 bytes of `key` as a big-endian number, zero-padded: comparing two prefixes
    /// orders keys by bytes whenever the prefixes differ.
    private static func keyPrefix(_ key: String) -> UInt64 {
        var key = key
        return key.withUTF8 { bytes in
            var prefix: UInt64 = 0
            for index in 0..<8 {
                prefix <<= 8
                if index < bytes.count { prefix |= UInt64(bytes[index]) }
            }
            return prefix
        }
    }

    /// Whether `a`'s UTF-8 bytes order before `b`'s (bytewise, shorter prefix first).
    static func utf8Precedes(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { left in
            b.withUTF8 { right in
                let common = min(left.count, right.count)
                var index = 0
                while index < common {
                    let l = left[index], r = right[index]
                    if l != r { return l < r }
                    index += 1
                }
                return left.count < right.count
            }
        }
    }

    /// Writes `string` as a JSON string: `"` and `\` escaped, control characters as short or `\u00XX` escapes.
    static func writeString(_ string: String, to out: inout ByteWriter) {
        out.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
                out.append(UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                out.append(0x5C)
                switch byte {
                case 0x22: out.append(0x22)
                case 0x5C: out.append(0x5C)
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                default:
                    out.append("u00")
                    out.append(hexDigit(byte >> 4))
                    out.append(hexDigit(byte & 0x0F))
                }
            }
            out.append(UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
        }
        out.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}
