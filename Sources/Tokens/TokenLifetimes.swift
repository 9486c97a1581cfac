import Synchronization

/// The default and longest lifetime of minted tokens, read on every mint and changed by a reload.
package final class TokenLifetimes: Sendable {
    private let defaultValue: Atomic<Int>
    private let maximumValue: Atomic<Int>

    package init(default ttl: Int, maximum: Int) {
        defaultValue = Atomic(ttl)
        maximumValue = Atomic(maximum)
    }

    /// Seconds a token lives when the caller asks for no `ttl`.
    package var defaultTTL: Int { defaultValue.load(ordering: .relaxed) }
    /// The longest `ttl` a caller may ask for.
    package var maxTTL: Int { maximumValue.load(ordering: .relaxed) }

    package func set(default ttl: Int, maximum: Int) {
        defaultValue.store(ttl, ordering: .relaxed)
        maximumValue.store(maximum, ordering: .relaxed)
    }
}
