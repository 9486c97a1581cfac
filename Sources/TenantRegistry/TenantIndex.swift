import Foundation

/// A read-only hash index from a key (a tenant's id or its domain) to its view, built once per snapshot
/// for the hot path's lookups. At 100k tenants a `[String: TenantView]` lookup costs several dependent
/// cache misses (bucket, the key's out-of-line bytes, the value, the view); this index needs one slot
/// (one cache line holding the hash, the key and the view's pointer), then the view itself.
///
/// - Open addressing with linear probing over one cache-line-aligned allocation of 32- or 64-byte slots,
///   4/3 as many slots as keys (load factor 0.75). The home slot is the hash's top 32 bits scaled to the
///   capacity (multiply-shift), so memory stays proportional to the tenant count.
/// - A slot: word 0 = the hash's top 40 bits (the tag; never 0, which marks an empty slot) | a length
///   byte | a 16-bit suffix number; word 1 = the view; then `slotSize - 16` bytes of key, zero-padded.
///   The length byte says how the key is stored:
///   - `0...16` (`0...48` in 64-byte slots): the whole key, this long, is inline;
///   - `split | n`: the key is `label.rest` with the label (`n` bytes, up to the key area) inline and
///     `rest` (everything after the first dot) in the index's suffix table, by number. Domains are
///     mostly `<tenantId>.<baseDomain>`: a few suffixes serve every tenant and stay in cache, and a
///     29-byte domain fits a 32-byte slot;
///   - `long`: neither fits; the key is compared with the view's own string (one more cache miss).
///   Slots are 32 bytes when every key fits one inline or split, else 64.
/// - The hash is a multiply-fold hash of the key's UTF-8 bytes (in the manner of wyhash), seeded per index
///   from the system's random generator, so which keys share a slot is not predictable from outside.
///   A tag match is always confirmed by comparing every byte: a collision costs time, never a wrong answer.
/// - Only ASCII keys are indexed, and only ASCII queries are answered here: for them `String` equality
///   (canonical equivalence) is byte equality. Anything else is `unsure`, and the caller asks the
///   dictionary the index was built from, so the results are exactly the dictionary's.
///
/// The views are not retained: the index must be built from a dictionary that outlives it and never
/// changes (a `TenantSnapshot`'s own `byId` / `byDomain`), which holds them. A value type over memory
/// the owning snapshot frees in its `deinit` (`release()`), so a lookup does no reference counting
/// beyond retaining the view it returns.
struct TenantIndex: @unchecked Sendable {
    enum Probe {
        case hit(Unmanaged<TenantView>)
        case miss
        /// The index cannot answer (a non-ASCII query, or a miss while non-ASCII keys were left out).
        case unsure
    }

    /// Which of the view's strings is the key (compared for `long` keys).
    enum Key {
        case tenantId
        case domain
    }

    private static let tagMask: UInt64 = ~0xFF_FFFF
    /// Set in every tag, so that no occupied slot's word 0 is 0.
    private static let tagBit: UInt64 = 1 << 24
    private static let split = 0x80
    private static let long = 0xFF
    private static let dot: UInt8 = 0x2E

    private let slots: UnsafeMutableRawPointer
    /// Bytes per slot, 32 or 64; the key area is `slotSize - 16` bytes.
    let slotSize: Int
    let capacity: Int
    private let seed: UInt64
    private let hashMask: UInt64
    private let key: Key
    /// Suffix `i`: `UInt64` number `i` of `suffixEntries` is `offset << 32 | length`, its bytes at `offset`
    /// in `suffixBytes`, each preceded by 8 zero bytes (so that its last 8 bytes can be read as one word).
    private let suffixEntries: UnsafeMutableRawPointer
    private let suffixBytes: UnsafeMutableRawPointer
    let suffixCount: Int
    /// Keys indexed.
    let count: Int
    /// False if some key was left out (not ASCII): then a miss is `unsure`.
    let isComplete: Bool

    /// Indexes `entries` (distinct keys, as a dictionary's; see above for who keeps the views alive).
    /// `hashMask` is for tests only: it throws away hash bits so that keys collide.
    init(_ entries: [String: TenantView], key: Key, seed: UInt64 = .random(in: .min ... .max), hashMask: UInt64 = .max) {
        self.key = key
        self.seed = seed
        self.hashMask = hashMask

        /// A key as read once (its bytes are not read again): hash, first 48 bytes, first dot, suffix number.
        struct Pending {
            var hash: UInt64 = 0
            var view: Unmanaged<TenantView>
            var length = 0
            /// The index of the first dot, if it has a label and a suffix around it; else -1.
            var label = -1
            /// The number of the suffix after `label` in `suffixes` (keys over 16 bytes only), else -1.
            var suffix = -1
            var bytes: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
        }
        var pending = [Pending]()
        pending.reserveCapacity(entries.count)
        var suffixNumbers = [[UInt8]: Int]()
        var suffixes = [[UInt8]]()
        var lastSuffix = -1
        for (stored, view) in entries {
            let read: Pending?? = stored.utf8.withContiguousStorageIfAvailable { utf8 in
                let bytes = UnsafeRawBufferPointer(utf8)
                guard let hashed = Self.hash(bytes, seed: seed) else { return nil }
                var entry = Pending(hash: hashed.hash & hashMask, view: .passUnretained(view), length: bytes.count)
                withUnsafeMutableBytes(of: &entry.bytes) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes.prefix(48))) }
                if let dot = bytes.firstIndex(of: Self.dot), dot < bytes.count - 1 {
                    entry.label = dot
                    if bytes.count > 16, dot <= 48 {
                        let rest = UnsafeRawBufferPointer(rebasing: bytes[(dot + 1)...])
                        // Most keys share the suffix of the one before (`<tenantId>.<baseDomain>`).
                        if lastSuffix >= 0, suffixes[lastSuffix].elementsEqual(rest) {
                            entry.suffix = lastSuffix
                        } else if let number = suffixNumbers[Array(rest)] {
                            entry.suffix = number
                        } else if suffixes.count < 0xFFFF {
                            entry.suffix = suffixes.count
                            suffixNumbers[Array(rest)] = suffixes.count
                            suffixes.append(Array(rest))
                        }
                        lastSuffix = entry.suffix
                    }
                }
                return entry
            }
            if let entry = read ?? nil { pending.append(entry) }
        }
        count = pending.count
        isComplete = pending.count == entries.count

        let fitsSmallSlot = pending.allSatisfy { $0.length <= 16 || ($0.label <= 16 && $0.suffix >= 0) }
        let slotSize = fitsSmallSlot ? 32 : 64
        let keyArea = slotSize - 16
        self.slotSize = slotSize
        capacity = max(16, pending.count * 4 / 3)
        let tableBytes = capacity * slotSize
        slots = UnsafeMutableRawPointer.allocate(byteCount: tableBytes, alignment: 64)
        slots.initializeMemory(as: UInt8.self, repeating: 0, count: tableBytes)

        // Keep only the suffixes of keys that are split (in 64-byte slots, keys up to 48 bytes are inline).
        var renumbered = [Int](repeating: -1, count: suffixes.count)
        var kept = [[UInt8]]()
        for entry in pending where entry.length > keyArea && entry.label >= 0 && entry.label <= keyArea && entry.suffix >= 0 {
            if renumbered[entry.suffix] < 0 {
                renumbered[entry.suffix] = kept.count
                kept.append(suffixes[entry.suffix])
            }
        }
        suffixes = kept

        for entry in pending {
            var meta = Self.long << 16
            var inline = 0
            if entry.length <= keyArea {
                meta = entry.length << 16
                inline = entry.length
            } else if entry.label >= 0, entry.label <= keyArea, entry.suffix >= 0 {
                meta = (Self.split | entry.label) << 16 | renumbered[entry.suffix]
                inline = entry.label
            }
            var index = Self.home(entry.hash, capacity)
            while slots.load(fromByteOffset: index &* slotSize, as: UInt64.self) != 0 { index = Self.next(index, capacity) }
            let slot = slots + index &* slotSize
            slot.storeBytes(of: entry.hash & Self.tagMask | Self.tagBit | UInt64(meta), as: UInt64.self)
            slot.storeBytes(of: entry.view, toByteOffset: 8, as: Unmanaged<TenantView>.self)
            withUnsafeBytes(of: entry.bytes) { (slot + 16).copyMemory(from: $0.baseAddress!, byteCount: inline) }
        }

        suffixCount = suffixes.count
        suffixEntries = UnsafeMutableRawPointer.allocate(byteCount: max(8, suffixes.count * 8), alignment: 8)
        let suffixBytesCount = suffixes.reduce(8) { $0 + 8 + $1.count }
        suffixBytes = UnsafeMutableRawPointer.allocate(byteCount: suffixBytesCount, alignment: 8)
        suffixBytes.initializeMemory(as: UInt8.self, repeating: 0, count: suffixBytesCount)
        var offset = 0
        for (number, suffix) in suffixes.enumerated() {
            offset += 8
            UnsafeMutableRawBufferPointer(start: suffixBytes + offset, count: suffix.count).copyBytes(from: suffix)
            suffixEntries.storeBytes(of: UInt64(offset) << 32 | UInt64(suffix.count), toByteOffset: number * 8, as: UInt64.self)
            offset += suffix.count
        }
    }

    /// Frees the slots and suffixes; the owner calls it exactly once, from its `deinit`.
    func release() {
        slots.deallocate()
        suffixEntries.deallocate()
        suffixBytes.deallocate()
    }

    /// The view whose key equals `query` (`String` equality), if the index can tell.
    @inline(__always)
    func probe(_ query: String) -> Probe {
        query.utf8.withContiguousStorageIfAvailable { probe(UnsafeRawBufferPointer($0), query) } ?? .unsure
    }

    @inline(__always)
    private func probe(_ bytes: UnsafeRawBufferPointer, _ query: String) -> Probe {
        guard let hashed = Self.hash(bytes, seed: seed) else { return .unsure }
        let hash = hashed.hash & hashMask
        let tag = hash & Self.tagMask | Self.tagBit
        var index = home(hash)
        while true {
            let slot = slots + index &* slotSize
            let stored = slot.load(as: UInt64.self)
            if stored & Self.tagMask == tag {
                if matches(slot, Int(truncatingIfNeeded: stored & 0xFF_FFFF), bytes, hashed, query) {
                    return .hit(slot.load(fromByteOffset: 8, as: Unmanaged<TenantView>.self))
                }
            } else if stored == 0 {
                return isComplete ? .miss : .unsure
            }
            index = next(index)
        }
    }

    /// Whether the key in `slot` (described by `meta`, the low 24 bits of its word 0) is `bytes`.
    @inline(__always)
    private func matches(_ slot: UnsafeMutableRawPointer, _ meta: Int, _ bytes: UnsafeRawBufferPointer, _ hashed: Hashed, _ query: String) -> Bool {
        let length = bytes.count
        let stored = meta >> 16
        if stored <= slotSize - 16 {
            guard stored == length else { return false }
            if length <= 15 {
                return Self.word(slot, 16) == hashed.low && Self.word(slot, 24) == hashed.high
            }
            return Self.equal(UnsafeRawPointer(slot + 16), bytes.baseAddress!, length)
        }
        if stored == Self.long { return matchesLongKey(slot.load(fromByteOffset: 8, as: Unmanaged<TenantView>.self), query) }
        // Split: label, dot, suffix. Split keys are longer than a key area (16 bytes), and so is a query
        // of the same length: its bytes are on the heap, and any word inside them can be read.
        let label = stored & 0x7F
        let suffix = suffixEntries.load(fromByteOffset: (meta & 0xFFFF) &* 8, as: UInt64.self)
        let suffixLength = Int(truncatingIfNeeded: suffix & 0xFFFF_FFFF)
        guard length == label + 1 + suffixLength else { return false }
        let query = bytes.baseAddress!
        return query.load(fromByteOffset: label, as: UInt8.self) == Self.dot
            && Self.equalPrefix(UnsafeRawPointer(slot + 16), query, label)
            && Self.equalSuffix(UnsafeRawPointer(suffixBytes + Int(truncatingIfNeeded: suffix >> 32)), query + label + 1, suffixLength)
    }

    @inline(never)
    private func matchesLongKey(_ view: Unmanaged<TenantView>, _ query: String) -> Bool {
        view._withUnsafeGuaranteedRef { view in
            switch key {
            case .tenantId: view.tenantId == query
            case .domain: view.domain == query
            }
        }
    }

    @inline(__always)
    private func home(_ hash: UInt64) -> Int { Self.home(hash, capacity) }

    @inline(__always)
    private func next(_ index: Int) -> Int { Self.next(index, capacity) }

    /// The slot a hash starts probing at: its top 32 bits times the capacity, over 2^32.
    @inline(__always)
    private static func home(_ hash: UInt64, _ capacity: Int) -> Int {
        Int(truncatingIfNeeded: ((hash >> 32) &* UInt64(truncatingIfNeeded: capacity)) >> 32)
    }

    @inline(__always)
    private static func next(_ index: Int, _ capacity: Int) -> Int {
        index &+ 1 == capacity ? 0 : index &+ 1
    }

    // MARK: Comparing

    @inline(__always)
    private static func word(_ pointer: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: pointer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Whether `length` (8 or more) bytes at `a` and `b` are equal: 8-byte words, the last one overlapping.
    @inline(__always)
    private static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ length: Int) -> Bool {
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
    private static func equalPrefix(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ length: Int) -> Bool {
        if length >= 8 { return equal(a, b, length) }
        let mask: UInt64 = length == 0 ? 0 : ~0 >> UInt64(64 - 8 * length)
        return (word(a, 0) ^ word(b, 0)) & mask == 0
    }

    /// Whether the `length` (1 or more) bytes at `a` and `b` are equal, when the 8 bytes that end where
    /// they end can be read at both (`a`, a suffix: zero bytes before it; `b`: the end of a long query).
    @inline(__always)
    private static func equalSuffix(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ length: Int) -> Bool {
        if length >= 8 { return equal(a, b, length) }
        return (word(a, length - 8) ^ word(b, length - 8)) >> UInt64(64 - 8 * length) == 0
    }

    // MARK: Hashing

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
