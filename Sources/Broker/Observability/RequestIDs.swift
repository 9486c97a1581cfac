import JOSE
import Synchronization

/// Request ids. They are not secrets (they are echoed to clients and written to logs and the audit trail),
/// but they must be unique, and should not tell a client how many requests the broker has served. Drawing 12
/// bytes from OpenSSL's CSPRNG per request cost about 2 µs, 4 % of a cached verification's CPU, so:
/// 4 random bytes drawn once per process, then 8 bytes that are a counter put through a bijective mix keyed
/// with process-random constants. Ids never repeat within a process (the mix is a permutation of the
/// counter), and two processes share ids only if their 32-bit prefixes collide. 16 base64url characters.
enum RequestIDs {
    private static let counter = Atomic<UInt64>(0)
    private static let keys: (prefix: UInt32, xor: UInt64, m1: UInt64, m2: UInt64) = {
        let bytes = Crypto.randomBytes(28)
        func word(_ at: Int) -> UInt64 { bytes[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        let prefix = bytes[24..<28].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        // Odd multipliers: multiplication by an odd number is invertible modulo 2^64.
        return (prefix, word(0), word(8) | 1, word(16) | 1)
    }()

    static func next() -> String {
        let keys = keys
        var x = counter.wrappingAdd(1, ordering: .relaxed).newValue ^ keys.xor
        // Each step (xor with a right shift, multiplication by an odd constant) is a bijection on UInt64.
        x ^= x >> 31
        x &*= keys.m1
        x ^= x >> 29
        x &*= keys.m2
        x ^= x >> 32
        var bytes = [UInt8](repeating: 0, count: 12)
        for index in 0..<4 { bytes[index] = UInt8(truncatingIfNeeded: keys.prefix >> (24 - 8 * UInt32(index))) }
        for index in 0..<8 { bytes[4 + index] = UInt8(truncatingIfNeeded: x >> (56 - 8 * UInt64(index))) }
        return Base64URL.encode(bytes)
    }
}
