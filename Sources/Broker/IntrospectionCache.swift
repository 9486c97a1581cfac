import JOSE
import Synchronization

/// Answers of the provider's introspection endpoint for tokens that carry no roles, keyed by the token's
/// SHA-256 and kept until the token's `exp` (inactive answers for a minute). Bounded: when full, expired
/// entries go first, then everything (a flood of distinct tokens cannot grow memory).
final class IntrospectionCache: Sendable {
    struct Entry: Sendable {
        /// nil: the provider said the token is not active.
        let claims: [String: JSONValue]?
        let until: Double
    }

    let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    static func key(_ token: String) -> String {
        Base64URL.encode(Crypto.sha256(Array(token.utf8)))
    }

    /// `.some(nil)` for a cached "inactive", nil when nothing (unexpired) is cached.
    func get(_ key: String, now: Double) -> [String: JSONValue]?? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.until > now else {
                entries[key] = nil
                return nil
            }
            return .some(entry.claims)
        }
    }

    func put(_ key: String, claims: [String: JSONValue]?, until: Double, now: Double) {
        guard until > now else { return }
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.until > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = Entry(claims: claims, until: until)
        }
    }
}
