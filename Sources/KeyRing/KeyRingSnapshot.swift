import Atomics
import Foundation
import JOSE

/// An immutable, fully parsed key ring: the signing key, every published verification key,
/// and the JWKS document with its ETag, all computed once at load time.
public final class KeyRingSnapshot: Sendable, AtomicReference {
    /// The key that signs new tokens.
    public let active: JWSPrivateKey
    /// Every published key (next, active, previous) by kid.
    public let verificationKeys: [String: JWSPublicKey]
    /// Metadata for every key, retired included, in creation order.
    public let entries: [KeyMetadata]
    /// The JWKS document served at `/.well-known/jwks.json`.
    public let jwks: [UInt8]
    /// A strong ETag of `jwks`.
    public let jwksETag: String
    /// When this snapshot was loaded.
    public let loadedAt: Date

    init(active: JWSPrivateKey, published: [JWSPublicKey], entries: [KeyMetadata], loadedAt: Date) {
        self.active = active
        var byKid = [String: JWSPublicKey]()
        for key in published { byKid[key.kid] = key }
        self.verificationKeys = byKid
        self.entries = entries
        self.jwks = JWKSet(keys: published).serialized()
        self.jwksETag = "\"" + String(Base64URL.encode(Crypto.sha256(jwks)).prefix(27)) + "\""
        self.loadedAt = loadedAt
    }

    /// The published key a token's `kid` names, if any.
    public func key(forKid kid: String) -> JWSPublicKey? {
        verificationKeys[kid]
    }

    /// The distinct algorithms of the published keys, for discovery documents.
    public var publishedAlgorithms: [String] {
        Array(Set(verificationKeys.values.map(\.algorithm.rawValue))).sorted()
    }

    /// Metadata of the active key.
    public var activeMetadata: KeyMetadata? {
        entries.first { $0.kid == active.kid }
    }
}
