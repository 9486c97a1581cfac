/// The index's hash of a key's bytes (see `TenantIndex`).
extension TenantIndex {
    struct Hashed {
        var hash: UInt64
        /// Keys of up to 15 bytes: their bytes as two little-endian words, zero-padded.
        var low: UInt64 = 0
        var high: UInt64 = 0
    }

    private static let k1: UInt64 = 0xa076_1d64_78bd_642f
    private static let k2: UInt64 = 0xe703_7ed1_a0b4_28db
    private static let k3: UInt64 = 0x8ebc_6af0_9c88_c6e3

    @inline(__always)
    private static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }

    /// The hash of `bytes`, nil if one is not ASCII.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> Hashed? {
        let length = bytes.count
        if length <= 15 {
            let (low, high) = words(bytes)
            guard (low | high) & 0x8080_8080_8080_8080 == 0 else { return nil }
            let h = mix(low ^ seed ^ k1, high ^ k2 ^ UInt64(truncatingIfNeeded: length))
            return Hashed(hash: mix(h ^ seed ^ k3, k1), low: low, high: high)
        }
        // 16 bytes per round, the last (overlapping) 16 bytes in the final one.
        var h = seed ^ k3
        var bits: UInt64 = 0
        var offset = 0
        while length - offset > 16 {
            let a = word(bytes.baseAddress!, offset)
            let b = word(bytes.baseAddress!, offset + 8)
            bits |= a | b
            h = mix(a ^ k1, b ^ h)
            offset += 16
        }
        let a = word(bytes.baseAddress!, length - 16)
        let b = word(bytes.baseAddress!, length - 8)
        bits |= a | b
        guard bits & 0x8080_8080_8080_8080 == 0 else { return nil }
        h = mix(a ^ k1 ^ UInt64(truncatingIfNeeded: length), b ^ h ^ k2)
        return Hashed(hash: mix(h ^ seed ^ k3, k1))
    }

    /// Up to 15 bytes as two little-endian words, zero-padded. Only the first word is read as one load:
    /// a small string's bytes are a stack copy of its two words, and a load spanning both would wait for
    /// them to be written back (a store-forwarding stall that also holds up the lookup after it).
    @inline(__always)
    private static func words(_ bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        let length = bytes.count
        var low: UInt64 = 0
        var high: UInt64 = 0
        if length >= 8 {
            low = word(bytes.baseAddress!, 0)
            var offset = 8
            while offset < length {
                high |= UInt64(bytes[offset]) << UInt64((offset - 8) * 8)
                offset += 1
            }
        } else {
            var offset = 0
            while offset < length {
                low |= UInt64(bytes[offset]) << UInt64(offset * 8)
                offset += 1
            }
        }
        return (low, high)
    }
}
