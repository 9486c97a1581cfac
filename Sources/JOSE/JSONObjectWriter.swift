/// Writes one JSON object member by member, in the order given, without building a dictionary first: for the
/// fixed shapes of the hot path (a cx-tenant token's claims, a mint's answer). The caller gives the keys in UTF-8
/// byte order, so the bytes are exactly those of `JSONValue.object(members).serialized()` (checked in debug
/// builds).
///
/// A dictionary of 13 claims takes 32 buckets (its load factor is 3/4), and the allocation crossed glibc's
/// large-chunk size, which consolidates the free lists on every mint: a subtenant token's 13th claim cost more
/// than the claim (in-process profile of the mint, issue 23).
public struct JSONObjectWriter: ~Copyable {
    var out: ByteWriter
    private var members = 0
    #if DEBUG
    private var previousKey: String?
    #endif

    public init(capacity: Int = 512) {
        out = ByteWriter(capacity: capacity)
        out.append(UInt8(ascii: "{"))
    }

    @inline(__always)
    private mutating func key(_ key: StaticString) {
        #if DEBUG
        let text = key.description
        if let previousKey { precondition(JSONValue.utf8Precedes(previousKey, text), "keys out of order: \(previousKey), \(text)") }
        previousKey = text
        #endif
        if members > 0 { out.append(UInt8(ascii: ",")) }
        members += 1
        out.append(UInt8(ascii: "\""))
        out.append(key)
        out.append("\":")
    }

    /// Appends `"key":value`. `key` is written as it is: it must need no escaping.
    public mutating func member(_ key: StaticString, _ value: JSONValue) {
        self.key(key)
        value.write(to: &out)
    }

    public mutating func member(_ key: StaticString, string value: String) {
        self.key(key)
        JSONValue.writeString(value, to: &out)
    }

    public mutating func member(_ key: StaticString, int value: Int64) {
        self.key(key)
        out.appendInteger(value)
    }

    /// Appends `"key":[...]` of `values` as JSON strings.
    public mutating func member(_ key: StaticString, strings values: [String]) {
        self.key(key)
        out.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.writeString(value, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// Closes the object and lends its bytes to `body`.
    consuming func finish<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        out.append(UInt8(ascii: "}"))
        return try out.withBytes(body)
    }

    /// Closes the object: its bytes.
    public consuming func bytes() -> [UInt8] {
        finish { Array($0) }
    }
}
