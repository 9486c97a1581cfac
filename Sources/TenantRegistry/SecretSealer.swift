import JOSE

/// Seals the secrets the broker must keep to use them (a tenant's Keycloak `clientSecret`) before they reach the
/// store: AES-256-GCM through OpenSSL, a random 96-bit nonce per value, and the record's id as associated data
/// (a sealed value copied into another tenant's row does not open). The key is not in the database: it comes
/// from `--secrets-key` or the key file beside the signing keys.
///
/// Stored form: `sealed:v1:<key id>:<base64url(nonce | ciphertext | tag)>`, where the key id is the first 8 bytes
/// of the key's SHA-256 in hex, so a value names the key that opens it. Several keys make rotation possible: the
/// first seals, every one opens, and at start-up values sealed under an older key are sealed again under the
/// first (`SQLTenantStore.sealSecrets`).
public struct SecretSealer: Sendable {
    public struct Key: Sendable {
        public let id: String
        let bytes: [UInt8]
    }

    /// The first seals; all open.
    public let keys: [Key]
    static let prefix = "sealed:v1:"

    /// `keys`: 32 bytes each, the sealing key first. None: a sealer that refuses to seal or open (for commands that
    /// never touch tenant secrets).
    public init(keys: [[UInt8]]) throws(SealingError) {
        var made: [Key] = []
        for bytes in keys {
            guard bytes.count == 32 else { throw .badKey("a secrets key must be exactly 32 bytes (base64 of 32 random bytes: openssl rand -base64 32)") }
            let id = Crypto.hex(Crypto.sha256(bytes).prefix(8))
            if !made.contains(where: { $0.id == id }) { made.append(Key(id: id, bytes: bytes)) }
        }
        self.keys = made
    }

    /// A sealer with one random key: for tests and benchmarks whose store lives only as long as the process.
    public static func ephemeral() -> SecretSealer {
        try! SecretSealer(keys: [Crypto.randomBytes(32)])
    }

    public enum SealingError: Error, Equatable, Sendable, CustomStringConvertible {
        case badKey(String)
        case noKey
        /// Sealed under a key this sealer does not hold.
        case unknownKey(String)
        /// The value is damaged, or belongs to another record.
        case cannotOpen

        public var description: String {
            switch self {
            case .badKey(let why): return why
            case .noKey: return "no secrets key is configured"
            case .unknownKey(let id): return "sealed under secrets key \(id), which is not configured (--secrets-key lists the keys that open)"
            case .cannotOpen: return "the sealed value does not open (damaged, or moved from another record)"
            }
        }
    }

    /// The id of the sealing key, or nil when there is none.
    public var currentKeyId: String? { keys.first?.id }

    public func seal(_ plaintext: String, record: String) throws(SealingError) -> String {
        guard let key = keys.first else { throw .noKey }
        let sealed = Crypto.sealAESGCM(key: key.bytes, plaintext: Array(plaintext.utf8), aad: Self.associatedData(record))
        return Self.prefix + key.id + ":" + Base64URL.encode(sealed)
    }

    public func open(_ stored: String, record: String) throws(SealingError) -> String {
        guard let (keyId, body) = Self.parts(stored) else { throw .cannotOpen }
        guard let key = keys.first(where: { $0.id == keyId }) else { throw keys.isEmpty ? .noKey : .unknownKey(keyId) }
        guard let sealed = Base64URL.decode(body), let plain = Crypto.openAESGCM(key: key.bytes, sealed: sealed, aad: Self.associatedData(record)),
            let text = String(validating: plain, as: UTF8.self)
        else { throw .cannotOpen }
        return text
    }

    /// Whether `stored` is in the sealed form (under any key).
    public static func isSealed(_ stored: String) -> Bool { stored.hasPrefix(prefix) }

    /// The key id a sealed value names.
    public static func keyId(of stored: String) -> String? { parts(stored)?.keyId }

    private static func parts(_ stored: String) -> (keyId: String, body: Substring)? {
        guard stored.hasPrefix(prefix) else { return nil }
        let rest = stored.dropFirst(prefix.count)
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        return (String(rest[..<colon]), rest[rest.index(after: colon)...])
    }

    private static func associatedData(_ record: String) -> [UInt8] { Array("token-broker:\(record)".utf8) }
}
