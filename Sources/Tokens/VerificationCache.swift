import Synchronization

/// Decisions about tokens, keyed by the token's SHA-256, each kept until its own deadline (never past the
/// token's `exp`): for cx-tenant tokens the expensive, unchanging part of verification (dynamic checks
/// are redone on every hit, so an entry cannot outlive a suspension, deletion or revocation); for Keycloak
/// tokens without roles, the provider's introspection answer. Negative answers are kept briefly.
/// Sharded, each shard bounded: a flood of distinct garbage tokens cannot grow memory past the bound.
package final class VerificationCache<Value: Sendable>: Sendable {
    package enum Entry: Sendable {
        case valid(Value, expires: Double)
        case invalid(String, until: Double)
    }

    package typealias Key = TokenHash

    final class Shard: Sendable {
        let entries = Mutex<[Key: Entry]>([:])
    }

    private let shards: [Shard]
    private let perShard: Int

    package init(capacity: Int = 100_000, shards count: Int = 16) {
        shards = (0..<count).map { _ in Shard() }
        perShard = max(1, capacity / count)
    }

    package func lookup(_ key: Key, now: Double) -> Entry? {
        let shard = shards[Int(key.a % UInt64(shards.count))]
        return shard.entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            let deadline: Double
            switch entry {
            case .valid(_, let expires): deadline = expires
            case .invalid(_, let until): deadline = until
            }
            if now >= deadline {
                entries[key] = nil
                return nil
            }
            return entry
        }
    }

    package func store(_ entry: Entry, for key: Key) {
        let shard = shards[Int(key.a % UInt64(shards.count))]
        shard.entries.withLock { entries in
            if entries.count >= perShard, entries[key] == nil, let victim = entries.keys.first {
                // Evict an arbitrary entry: keys are hashes, so this is effectively random eviction.
                entries[victim] = nil
            }
            entries[key] = entry
        }
    }

    /// Number of entries (for tests and metrics).
    package var count: Int { shards.reduce(0) { total, shard in total + shard.entries.withLock { $0.count } } }
}
