import Foundation

/// A read-only hash index from a key (a tenant's id or its domain) to its view, built once per snapshot
/// for the hot path's lookups. At 100k tenants a `[String: TenantView]` lookup costs several dependent
/// cache misses (bucket, the key's out-of-line bytes, the value, the view, the view's strings); this
/// index answers what the hot path asks (is the tenant there, its status, is this its domain) from one
/// 64-byte slot, one cache line, and reaches the view only for the other fields.
///
/// - Open addressing with linear probing over one cache-line-aligned table of 64-byte slots, 4/3 as many
///   slots as keys (load factor 0.75). The home slot is the hash's top 32 bits scaled to the capacity
///   (multiply-shift), so memory stays proportional to the tenant count. A table of 2 MiB or more is
///   mapped on its own, 2 MiB-aligned and marked `MADV_HUGEPAGE`, so that a lookup's one cache miss is
///   not also a TLB miss (with 4 KiB pages a random load over many megabytes is both).
/// - A slot:
///   - word 0 = the hash's top 40 bits (the tag; never 0, which marks an empty slot) | a length byte |
///     a 16-bit suffix number;
///   - word 1 = the view;
///   - word 2 = the subscription's end (`Date.timeIntervalSinceReferenceDate`, +infinity if none);
///   - word 3 = the stored status (byte 0) and, in the id index, whether the tenant's domain is
///     `<tenantId>.<suffix>` (bit 8) with that suffix's number (bits 16-31);
///   - bytes 32-63: 32 bytes of key, zero-padded.
///   The length byte says how the key is stored:
///   - `0...32`: the whole key, this long, is inline;
///   - `split | n`: the key is `label.rest` with the label (`n` bytes, up to 32) inline and `rest`
///     (everything after the first dot) in the index's suffix table, by number. Domains are mostly
///     `<tenantId>.<baseDomain>`: a few suffixes serve every tenant and stay in cache;
///   - `long`: neither fits; the key is compared with the view's own string (one more cache miss).
/// - The hash is a multiply-fold hash of the key's UTF-8 bytes (in the manner of wyhash), seeded per index
///   from the system's random generator, so which keys share a slot is not predictable from outside.
///   A tag match is always confirmed by comparing every byte: a collision costs time, never a wrong answer.
/// - Only ASCII keys are indexed, and only ASCII queries are answered here: for them `String` equality
///   (canonical equivalence) is byte equality. Anything else is `unsure`, and the caller asks the
///   dictionary the index was built from, so the results are exactly the dictionary's.
///
/// The views are not retained: the index must be built from a dictionary that outlives it and never
/// changes (a `TenantSnapshot`'s own `byId` / `byDomain`), which holds them. Views are immutable, so the
/// copies of their status, end and domain in the slots stay true for the index's life. A value type over
/// memory the owning snapshot frees in its `deinit` (`release()`), so a lookup does no reference counting.
struct TenantIndex: @unchecked Sendable {
    enum Probe {
        /// The slot holding the key (see `TenantEntry`).
        case hit(UnsafeRawPointer)
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
    /// Bytes per slot, and where a slot's fields are.
    static let slotSize = 64
    static let keyArea = 32
    static let viewOffset = 8
    static let endOffset = 16
    static let hotOffset = 24
    static let keyOffset = 32
    /// Word 3: the stored status's code in byte 0; `defaultDomain` set when the domain is `<key>.<suffix>`.
    static let defaultDomain: UInt64 = 1 << 8
    /// The smallest table mapped on its own in huge pages, and their size.
    private static let hugePage = 2 << 20

    private let slots: UnsafeMutableRawPointer
    /// Bytes mapped for `slots` when it is a mapping of its own (`munmap` on release); 0 when it is from malloc.
    let mappedBytes: Int
    var slotSize: Int { Self.slotSize }
    let capacity: Int
    private let seed: UInt64
    private let hashMask: UInt64
    private let key: Key
    /// Suffix `i`: `UInt64` number `i` of `suffixEntries` is `offset << 32 | length`, its bytes at `offset`
    /// in `suffixBytes`, each preceded by 8 zero bytes (so that its last 8 bytes can be read as one word).
    let suffixEntries: UnsafeMutableRawPointer
    let suffixBytes: UnsafeMutableRawPointer
    let suffixCount: Int
    /// Keys indexed.
    let count: Int
    /// False if some key was left out (not ASCII): then a miss is `unsure`.
    let isComplete: Bool
    /// Whether the slot table is in a mapping of its own advised for huge pages (diagnostics).
    var isHugePageMapped: Bool { mappedBytes > 0 }

    /// Indexes `entries` (distinct keys, as a dictionary's; see above for who keeps the views alive).
    /// `hashMask` is for tests only: it throws away hash bits so that keys collide.
    init(_ entries: [String: TenantView], key: Key, seed: UInt64 = .random(in: .min ... .max), hashMask: UInt64 = .max) {
        self.key = key
        self.seed = seed
        self.hashMask = hashMask

        /// A key as read once (its bytes are not read again): hash, first 32 bytes, first dot, suffix numbers.
        struct Pending {
            var hash: UInt64 = 0
            var view: Unmanaged<TenantView>
            var length = 0
            /// The index of the first dot, if it has a label and a suffix around it; else -1.
            var label = -1
            /// Split keys only: the number of the suffix after `label`, else -1.
            var suffix = -1
            /// Id index only: the number of the suffix `rest` of a domain `<id>.<rest>`, else -1.
            var domainSuffix = -1
            var bytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        }
        var pending = [Pending]()
        pending.reserveCapacity(entries.count)
        var suffixNumbers = [[UInt8]: Int]()
        var suffixes = [[UInt8]]()
        var lastSuffix = -1
        /// The number of suffix `rest`, added if new; -1 once there are 0xFFFF of them.
        func intern(_ rest: UnsafeRawBufferPointer) -> Int {
            // Most keys share the suffix of the one before (`<tenantId>.<baseDomain>`).
            if lastSuffix >= 0, suffixes[lastSuffix].elementsEqual(rest) { return lastSuffix }
            let bytes = Array(rest)
            if let number = suffixNumbers[bytes] {
                lastSuffix = number
            } else if suffixes.count < 0xFFFF {
                lastSuffix = suffixes.count
                suffixNumbers[bytes] = suffixes.count
                suffixes.append(bytes)
            } else {
                return -1
            }
            return lastSuffix
        }
        for (stored, view) in entries {
            let read: Pending?? = stored.utf8.withContiguousStorageIfAvailable { utf8 in
                let bytes = UnsafeRawBufferPointer(utf8)
                guard let hashed = Self.hash(bytes, seed: seed) else { return nil }
                var entry = Pending(hash: hashed.hash & hashMask, view: .passUnretained(view), length: bytes.count)
                withUnsafeMutableBytes(of: &entry.bytes) {
                    $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes.prefix(Self.keyArea)))
                }
                if let dot = bytes.firstIndex(of: Self.dot), dot < bytes.count - 1 {
                    entry.label = dot
                    if bytes.count > Self.keyArea, dot <= Self.keyArea {
                        entry.suffix = intern(UnsafeRawBufferPointer(rebasing: bytes[(dot + 1)...]))
                    }
                }
                if key == .tenantId, bytes.count <= Self.keyArea {
                    entry.domainSuffix = Self.defaultDomainSuffix(of: view.domain, key: bytes, intern: intern) ?? -1
                }
                return entry
            }
            if let entry = read ?? nil { pending.append(entry) }
        }
        count = pending.count
        isComplete = pending.count == entries.count

        capacity = max(16, pending.count * 4 / 3)
        (slots, mappedBytes) = Self.allocateTable(capacity * Self.slotSize)

        for entry in pending {
            var meta = Self.long << 16
            var inline = 0
            if entry.length <= Self.keyArea {
                meta = entry.length << 16
                inline = entry.length
            } else if entry.label >= 0, entry.label <= Self.keyArea, entry.suffix >= 0 {
                meta = (Self.split | entry.label) << 16 | entry.suffix
                inline = entry.label
            }
            var index = Self.home(entry.hash, capacity)
            while slots.load(fromByteOffset: index &* Self.slotSize, as: UInt64.self) != 0 { index = Self.next(index, capacity) }
            let slot = slots + index &* Self.slotSize
            let view = entry.view.takeUnretainedValue()
            var hot = UInt64(Self.statusCode(view.storedStatus))
            if entry.domainSuffix >= 0 { hot |= Self.defaultDomain | UInt64(entry.domainSuffix) << 16 }
            slot.storeBytes(of: entry.hash & Self.tagMask | Self.tagBit | UInt64(meta), as: UInt64.self)
            slot.storeBytes(of: entry.view, toByteOffset: Self.viewOffset, as: Unmanaged<TenantView>.self)
            slot.storeBytes(
                of: view.expiresAt?.timeIntervalSinceReferenceDate ?? .infinity, toByteOffset: Self.endOffset, as: Double.self)
            slot.storeBytes(of: hot, toByteOffset: Self.hotOffset, as: UInt64.self)
            withUnsafeBytes(of: entry.bytes) { (slot + Self.keyOffset).copyMemory(from: $0.baseAddress!, byteCount: inline) }
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

    /// The number of `rest` when `domain` is `<key>.<rest>`, all ASCII, with a non-empty `rest`; else nil.
    private static func defaultDomainSuffix(
        of domain: String, key: UnsafeRawBufferPointer, intern: (UnsafeRawBufferPointer) -> Int
    ) -> Int? {
        let number: Int?? = domain.utf8.withContiguousStorageIfAvailable { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            guard bytes.count > key.count + 1, bytes.allSatisfy({ $0 < 0x80 }), bytes[key.count] == dot,
                bytes.prefix(key.count).elementsEqual(key)
            else { return nil }
            let number = intern(UnsafeRawBufferPointer(rebasing: bytes[(key.count + 1)...]))
            return number >= 0 ? number : nil
        }
        return number ?? nil
    }

    /// A stored status as word 3's byte 0, and back.
    static func statusCode(_ status: StoredStatus) -> UInt8 {
        switch status {
        case .active: 0
        case .suspended: 1
        case .deleted: 2
        case .purged: 3
        }
    }

    @inline(__always)
    static func storedStatus(code: UInt8) -> StoredStatus {
        switch code {
        case 0: .active
        case 1: .suspended
        case 3: .purged
        default: .deleted
        }
    }

    /// A zeroed, 64-byte-aligned table; from 2 MiB on, a mapping of its own, 2 MiB-aligned and advised for
    /// transparent huge pages before its first touch (`madvise` mode, the kernel's default). Returns the
    /// table and the bytes mapped (0 if from malloc).
    private static func allocateTable(_ bytes: Int) -> (UnsafeMutableRawPointer, Int) {
        if bytes >= hugePage {
            let mapped = (bytes + hugePage - 1) / hugePage * hugePage
            // Over-map by one huge page, then unmap what lies outside the aligned range.
            let reserved = mapped + hugePage
            if let raw = mmap(nil, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != MAP_FAILED {
                let start = UInt(bitPattern: raw)
                let aligned = (start + UInt(hugePage) - 1) & ~(UInt(hugePage) - 1)
                let head = Int(aligned - start)
                if head > 0 { munmap(raw, head) }
                let tail = reserved - head - mapped
                let table = UnsafeMutableRawPointer(bitPattern: aligned)!
                if tail > 0 { munmap(table + mapped, tail) }
                // Advice only: without THP the table works the same on 4 KiB pages. Fresh anonymous memory is zero.
                _ = madvise(table, mapped, MADV_HUGEPAGE)
                return (table, mapped)
            }
        }
        let table = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        table.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        return (table, 0)
    }

    /// Frees the slots and suffixes; the owner calls it exactly once, from its `deinit`.
    func release() {
        if mappedBytes > 0 { munmap(slots, mappedBytes) } else { slots.deallocate() }
        suffixEntries.deallocate()
        suffixBytes.deallocate()
    }

    /// The view in a slot `probe` returned.
    @inline(__always)
    static func view(at slot: UnsafeRawPointer) -> Unmanaged<TenantView> {
        slot.load(fromByteOffset: viewOffset, as: Unmanaged<TenantView>.self)
    }

    /// The slot whose key equals `query` (`String` equality), if the index can tell.
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
            let slot = slots + index &* Self.slotSize
            let stored = slot.load(as: UInt64.self)
            if stored & Self.tagMask == tag {
                if matches(slot, Int(truncatingIfNeeded: stored & 0xFF_FFFF), bytes, hashed, query) {
                    return .hit(UnsafeRawPointer(slot))
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
        let key = slot + Self.keyOffset
        if stored <= Self.keyArea {
            guard stored == length else { return false }
            if length <= 15 {
                return Self.word(key, 0) == hashed.low && Self.word(key, 8) == hashed.high
            }
            return Self.equal(UnsafeRawPointer(key), bytes.baseAddress!, length)
        }
        if stored == Self.long { return matchesLongKey(Self.view(at: slot), query) }
        // Split: label, dot, suffix. Split keys are longer than a key area (32 bytes), and so is a query
        // of the same length: its bytes are on the heap, and any word inside them can be read.
        let label = stored & 0x7F
        let suffix = suffixEntries.load(fromByteOffset: (meta & 0xFFFF) &* 8, as: UInt64.self)
        let suffixLength = Int(truncatingIfNeeded: suffix & 0xFFFF_FFFF)
        guard length == label + 1 + suffixLength else { return false }
        let query = bytes.baseAddress!
        return query.load(fromByteOffset: label, as: UInt8.self) == Self.dot
            && Self.equalPrefix(UnsafeRawPointer(key), query, label)
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
}
