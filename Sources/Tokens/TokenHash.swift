import JOSE

/// A token's SHA-256 as four words: the key of every cache of decisions about tokens.
package struct TokenHash: Hashable, Sendable {
    let a: UInt64, b: UInt64, c: UInt64, d: UInt64

    package init(_ token: String) {
        let digest = Crypto.sha256(token.utf8)
        func word(_ offset: Int) -> UInt64 {
            digest[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
        }
        (a, b, c, d) = (word(0), word(8), word(16), word(24))
    }
}
