/// Comparing key bytes a word at a time: a slot's inline key, a suffix, a query.
extension TenantIndex {
    @inline(__always)
    static func word(_ pointer: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: pointer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Whether `length` (8 or more) bytes at `a` and `b` are equal: 8-byte words, the last one overlapping.
    @inline(__always)
    static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ length: Int) -> Bool {
        var difference: UInt64 = 0
        var offset = 0
        while offset < length - 8 {
            difference |= word(a, offset) ^ word(b, offset)
            offset += 8
        }
        return (difference | (word(a, length - 8) ^ word(b, length - 8))) == 0
    }

    /// Whether the first `length` bytes at `a` and `b` are equal, when at least 8 bytes can be read at both.
    @inline(__always)
    static func equalPrefix(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ length: Int) -> Bool {
        if length >= 8 { return equal(a, b, length) }
        let mask: UInt64 = length == 0 ? 0 : ~0 >> UInt64(64 - 8 * length)
        return (word(a, 0) ^ word(b, 0)) & mask == 0
    }

    /// Whether the `length` (1 or more) bytes at `a` and `b` are equal, when the 8 bytes that end where
    /// they end can be read at both (`a`, a suffix: zero bytes before it; `b`: the end of a long query).
    @inline(__always)
    static func equalSuffix(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ length: Int) -> Bool {
        if length >= 8 { return equal(a, b, length) }
        return (word(a, length - 8) ^ word(b, length - 8)) >> UInt64(64 - 8 * length) == 0
    }
}
