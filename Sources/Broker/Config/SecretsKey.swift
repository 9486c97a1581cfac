import Foundation
import JOSE
import KeyRing
import Logging
import TenantRegistry

/// Where the key that seals tenant client secrets comes from: `--secrets-key` when set, else the file
/// `secrets.key` in the key ring's directory (base64 of 32 bytes, mode 0600, never a symlink), created with a
/// random key on first start. It is kept apart from the database on purpose: a copy of the database alone
/// (a backup, a replica, a stolen disk image of the data volume) does not give away the secrets.
public enum SecretsKey {
    public static let fileName = "secrets.key"

    /// The sealer for `configuration`; creates the key file when there is neither a setting nor a file.
    public static func sealer(_ configuration: BrokerConfiguration, logger: Logger) throws -> SecretSealer {
        if let keys = configuration.secretsKeys { return try SecretSealer(keys: keys) }
        let path = (configuration.keysDir as NSString).appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: path) || (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil {
            let text = String(decoding: try SecretFile.read(path), as: UTF8.self)
            guard let key = BrokerConfiguration.key32(text) else {
                throw ConfigurationError("\(path) must hold base64 of exactly 32 bytes (e.g. openssl rand -base64 32 > \(path); chmod 600 \(path))")
            }
            return try SecretSealer(keys: [key])
        }
        let key = Crypto.randomBytes(32)
        do {
            try FileManager.default.createDirectory(atPath: configuration.keysDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try SecretFile.create(path, Array((Data(key).base64EncodedString() + "\n").utf8))
        } catch {
            throw ConfigurationError(
                "no secrets key: --secrets-key (TOKEN_BROKER_SECRETS_KEY) is not set and \(path) cannot be created (\(error)); set it, or make --keys-dir writable")
        }
        logger.notice(
            "created the secrets key file: it seals tenant client secrets in the store; back it up with the signing keys, and give every instance the same key (--secrets-key)",
            metadata: ["path": .string(path)])
        return try SecretSealer(keys: [key])
    }
}
