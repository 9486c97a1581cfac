extension JSONParser {
    /// Where `walkObject` puts an object's members; a duplicate key is refused.
    protocol MemberSink {
        mutating func add(_ key: String, _ value: JSONValue) throws(JSONParser.Failure)
    }

    /// Members as a dictionary (claims, nested objects).
    struct ObjectMembers: MemberSink {
        var dictionary: [String: JSONValue]

        init(capacity: Int) { dictionary = .init(minimumCapacity: capacity) }

        mutating func add(_ key: String, _ value: JSONValue) throws(JSONParser.Failure) {
            if dictionary.updateValue(value, forKey: key) != nil { throw .duplicateKey }
        }
    }

    /// Members in document order (a JWS header). Duplicates are found by comparing keys, cheap for the few
    /// members of a header; past 16 members a set takes over, so a hostile object stays linear.
    struct OrderedMembers: MemberSink {
        var pairs = [(key: String, value: JSONValue)]()
        private var seen: Set<String>?

        mutating func add(_ key: String, _ value: JSONValue) throws(JSONParser.Failure) {
            if seen == nil, pairs.count == 16 { seen = Set(pairs.map(\.key)) }
            if seen != nil {
                if seen!.insert(key).inserted == false { throw .duplicateKey }
            } else if pairs.contains(where: { $0.key == key }) {
                throw .duplicateKey
            }
            if pairs.isEmpty { pairs.reserveCapacity(4) }
            pairs.append((key, value))
        }
    }
}
