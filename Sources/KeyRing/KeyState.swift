/// Where a key is in its life: published ahead of use, signing, still verifying, or gone.
public enum KeyState: String, Codable, Sendable, CaseIterable {
    /// Published in the JWKS but not yet signing, so verifiers learn it before the first token.
    case next
    /// The one key that signs new tokens.
    case active
    /// A former active key, still published so tokens it signed keep verifying.
    case published
    /// Removed from the JWKS; its private key file is deleted.
    case retired

    /// Whether the key appears in the JWKS and verifies tokens.
    public var isPublished: Bool { self != .retired }
}
