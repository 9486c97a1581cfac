/// A JSON value as the JOSE layer sees it: parsed strictly, serialised deterministically.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// An integer literal that fits in 64 bits (no fraction, no exponent).
    case int(Int64)
    /// Any other number.
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The string, when this is one.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The object, when this is one.
    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The array, when this is one.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The integer, when this is one.
    public var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }

    /// A number as Double (NumericDate may carry a fraction); nil for non-numbers.
    public var numberValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    /// Follows a dotted path (`realm_access.roles`) through nested objects.
    public func value(atPath path: String) -> JSONValue? {
        var current: JSONValue? = self
        for component in path.split(separator: ".", omittingEmptySubsequences: false) {
            current = current?.objectValue?[String(component)]
        }
        return current
    }
}

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

/// A growable byte buffer for serialisation, freed when it goes out of scope.
struct ByteWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit {
        base.deallocate()
    }

    /// The bytes written so far, valid only inside `body`.
    func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if extra > capacity - count { grow(to: count + extra) }
    }

    @inline(never)
    private mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.moveInitialize(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (base + count).initialize(from: source, count: bytes.count)
        count += bytes.count
    }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends the decimal digits of `value` (the same text as `String(value)`).
    mutating func appendInteger(_ value: Int64) {
        reserve(20)
        var magnitude = value.magnitude
        var digits = 1
        var scan = magnitude
        while scan >= 10 {
            scan /= 10
            digits += 1
        }
        if value < 0 {
            base[count] = UInt8(ascii: "-")
            count += 1
        }
        var position = count + digits
        count = position
        repeat {
            position -= 1
            base[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
    }
}
