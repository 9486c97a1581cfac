import Foundation

/// A tenant as a hot-path lookup finds it (`TenantDirectory.withTenantEntry(id:_:)`): what verification asks
/// of a tenant on every request (its status at a time, whether a domain is its own) answered from the
/// index slot the lookup has already loaded, one cache line; the full `TenantView` only when asked for.
/// At 100k tenants that is one cache miss per lookup instead of three (the slot, the view, the view's
/// domain string).
///
/// Borrowed: it points into the directory's current snapshot and is valid only inside the closure it is
/// passed to; it must not be kept.
public struct TenantEntry {
    /// The index slot (see `TenantIndex`), or nil when the index could not answer and the dictionary did.
    private let slot: UnsafeRawPointer?
    private let viewReference: Unmanaged<TenantView>
    private let suffixEntries: UnsafeRawPointer?
    private let suffixBytes: UnsafeRawPointer?

    @inline(__always)
    init(slot: UnsafeRawPointer, in index: TenantIndex) {
        self.slot = slot
        viewReference = TenantIndex.view(at: slot)
        suffixEntries = UnsafeRawPointer(index.suffixEntries)
        suffixBytes = UnsafeRawPointer(index.suffixBytes)
    }

    init(view: Unmanaged<TenantView>) {
        slot = nil
        viewReference = view
        suffixEntries = nil
        suffixBytes = nil
    }

    /// The tenant's full view (one more cache miss on a large registry); retained by the caller.
    public var view: TenantView { viewReference.takeUnretainedValue() }

    public var storedStatus: StoredStatus {
        guard let slot else { return viewReference._withUnsafeGuaranteedRef { $0.storedStatus } }
        return TenantIndex.storedStatus(code: slot.load(fromByteOffset: TenantIndex.hotOffset, as: UInt8.self))
    }

    /// Status at `now`, exactly as `TenantView.status(at:)`.
    @inline(__always)
    public func status(at now: Date) -> TenantStatus {
        guard let slot else { return viewReference._withUnsafeGuaranteedRef { $0.status(at: now) } }
        // Stored as `timeIntervalSinceReferenceDate` (+infinity without an end), which is what `Date` compares.
        let end = slot.load(fromByteOffset: TenantIndex.endOffset, as: Double.self)
        return storedStatus.status(subscriptionEnded: end <= now.timeIntervalSinceReferenceDate)
    }

    /// Whether `domain` is the tenant's domain (`String` equality, as `view.domain == domain`). A domain of
    /// the usual form `<tenantId>.<base domain>`, looked up by id, is compared with the id in the slot and
    /// the index's shared suffix; any other (or a non-ASCII `domain`) with the view's own string.
    public func hasDomain(_ domain: String) -> Bool {
        guard let slot, let suffixEntries, let suffixBytes else { return viewDomainEquals(domain) }
        let hot = slot.load(fromByteOffset: TenantIndex.hotOffset, as: UInt64.self)
        guard hot & TenantIndex.defaultDomain != 0 else { return viewDomainEquals(domain) }
        // A default domain's id is inline: its length is the slot's length byte.
        let idLength = Int(truncatingIfNeeded: slot.load(as: UInt64.self) >> 16 & 0xFF)
        let suffix = suffixEntries.load(fromByteOffset: Int(truncatingIfNeeded: hot >> 16 & 0xFFFF) &* 8, as: UInt64.self)
        let suffixLength = Int(truncatingIfNeeded: suffix & 0xFFFF_FFFF)
        let answer: Bool? = domain.utf8.withContiguousStorageIfAvailable { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            let length = bytes.count
            // Word reads need 8 bytes; every default domain of a real deployment is longer than that.
            guard length >= 8, let base = bytes.baseAddress else { return nil }
            // Only ASCII compares as bytes: a non-ASCII string can be canonically equal to an ASCII one.
            var bits: UInt64 = 0
            var offset = 0
            while offset < length - 8 {
                bits |= TenantIndex.word(base, offset)
                offset += 8
            }
            guard (bits | TenantIndex.word(base, length - 8)) & 0x8080_8080_8080_8080 == 0 else { return nil }
            guard length == idLength + 1 + suffixLength, base.load(fromByteOffset: idLength, as: UInt8.self) == 0x2E else { return false }
            // Id: at most 32 bytes, inline in the slot's key area; suffix: 8 readable zero bytes before it in the table.
            return TenantIndex.equalPrefix(slot + TenantIndex.keyOffset, base, idLength)
                && TenantIndex.equalSuffix(suffixBytes + Int(truncatingIfNeeded: suffix >> 32), base + idLength + 1, suffixLength)
        } ?? nil
        return answer ?? viewDomainEquals(domain)
    }

    @inline(never)
    private func viewDomainEquals(_ domain: String) -> Bool {
        viewReference._withUnsafeGuaranteedRef { $0.domain == domain }
    }
}
