/// A strict RFC 8259 parser for token headers, claims and JWKS documents.
///
/// Stricter than Foundation on purpose: a duplicate object key is an error (two parsers
/// must never disagree on a claim), and input size and nesting depth are bounded.
public struct JSONParser: Sendable {
    /// Why a document was refused.
    public enum Failure: Error, Equatable, Sendable {
        case tooLarge
        case tooDeep
        case duplicateKey
        case invalid(offset: Int)
    }

    /// Largest document accepted, in bytes.
    public var maxBytes: Int
    /// Deepest nesting of arrays and objects accepted.
    public var maxDepth: Int

    /// A parser with the given bounds.
    public init(maxBytes: Int = 1 << 20, maxDepth: Int = 32) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
    }

    /// Parses one JSON document; trailing non-whitespace is an error.
    public func parse(_ bytes: some Collection<UInt8>) throws(Failure) -> JSONValue {
        if let result = bytes.withContiguousStorageIfAvailable({ parseResult(buffer: $0) }) { return try result.get() }
        return try parse(array: Array(bytes))
    }

    /// Parses one JSON document held in an array, without copying it.
    public func parse(array bytes: [UInt8]) throws(Failure) -> JSONValue {
        try bytes.withUnsafeBufferPointer { parseResult(buffer: $0) }.get()
    }

    /// Parses one JSON document held in contiguous memory, without copying it.
    public func parse(buffer bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> JSONValue {
        try parseResult(buffer: bytes).get()
    }

    /// Parses a document that must be a JSON object.
    public func parseObject(_ bytes: some Collection<UInt8>) throws(Failure) -> [String: JSONValue] {
        guard case .object(let members) = try parse(bytes) else { throw .invalid(offset: 0) }
        return members
    }

    /// Parses a JSON object held in an array, without copying it.
    public func parseObject(array bytes: [UInt8]) throws(Failure) -> [String: JSONValue] {
        guard case .object(let members) = try parse(array: bytes) else { throw .invalid(offset: 0) }
        return members
    }

    /// Parses a JSON object held in contiguous memory, without copying it.
    public func parseObject(buffer bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> [String: JSONValue] {
        guard case .object(let members) = try parse(buffer: bytes) else { throw .invalid(offset: 0) }
        return members
    }

    /// Parses a JSON object held in contiguous memory into its members, in document order, without building
    /// a dictionary (for small objects read once, such as a JWS header). Duplicate keys are refused, as by
    /// `parseObject`; nested values are parsed as usual.
    public func parseMembers(buffer bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> [(key: String, value: JSONValue)] {
        try document(bytes) { (cursor) throws(Failure) in
            guard cursor.index < cursor.count, cursor.base[cursor.index] == UInt8(ascii: "{") else { throw .invalid(offset: cursor.index) }
            return try cursor.parseMembers(depth: 1)
        }.get()
    }

    private func parseResult(buffer: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, Failure> {
        document(buffer) { (cursor) throws(Failure) in try cursor.parseValue(depth: 0) }
    }

    /// One whole document: size bound, whitespace around `parse`, nothing after it.
    @inline(__always)
    func document<T>(_ buffer: UnsafeBufferPointer<UInt8>, _ parse: (inout Cursor) throws(Failure) -> T) -> Result<T, Failure> {
        if buffer.count > maxBytes { return .failure(.tooLarge) }
        // A non-nil base even for empty input, so the cursor can use plain pointer arithmetic.
        var empty: UInt8 = 0
        return withUnsafePointer(to: &empty) { placeholder in
            var cursor = Cursor(base: buffer.baseAddress ?? placeholder, count: buffer.count, maxDepth: maxDepth)
            do throws(Failure) {
                cursor.skipWhitespace()
                let value = try parse(&cursor)
                cursor.skipWhitespace()
                guard cursor.atEnd else { throw .invalid(offset: cursor.index) }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
    }
}
