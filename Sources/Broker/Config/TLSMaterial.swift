import Foundation
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// The certificate chain and private key of the native HTTPS listener, read from `--tls-cert` / `--tls-key`
/// and swapped atomically on SIGHUP: every new handshake asks for the current pair (NIOSSL's context
/// callback), so a renewed certificate applies without a restart or a dropped connection. TLS 1.2 or later.
public final class TLSMaterial: Sendable {
    struct Pair: Sendable {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
    }

    public let certificatePath: String
    public let keyPath: String
    private let current: Mutex<Pair>

    public init(certificatePath: String, keyPath: String) throws(ConfigurationError) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        current = Mutex(try Self.load(certificatePath: certificatePath, keyPath: keyPath))
    }

    /// Reads both files again; on any problem the pair in use stays and the error says why.
    public func reload() -> Result<Void, ConfigurationError> {
        do {
            let pair = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
            current.withLock { $0 = pair }
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    /// The server configuration: TLS 1.2+, the pair asked for again at every handshake.
    func serverConfiguration() -> TLSConfiguration {
        let pair = current.withLock { $0 }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: pair.chain.map { .certificate($0) }, privateKey: .privateKey(pair.key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.sslContextCallback = { [self] _, promise in
            let pair = current.withLock { $0 }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = pair.chain.map { .certificate($0) }
            override.privateKey = .privateKey(pair.key)
            promise.succeed(override)
        }
        return configuration
    }

    static func load(certificatePath: String, keyPath: String) throws(ConfigurationError) -> Pair {
        var info = stat()
        guard stat(keyPath, &info) == 0 else { throw ConfigurationError("--tls-key \(keyPath) does not exist or cannot be read") }
        guard info.st_mode & 0o077 == 0 else {
            throw ConfigurationError(
                "--tls-key \(keyPath) is readable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); run chmod 600 \(keyPath)")
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw ConfigurationError("--tls-cert \(certificatePath) is not a PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw ConfigurationError("--tls-cert \(certificatePath) holds no certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw ConfigurationError("--tls-key \(keyPath) is not a PEM private key (\(type(of: error)))")
        }
        do {
            // Building a context checks that the key belongs to the first certificate.
            _ = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)))
        } catch {
            throw ConfigurationError("--tls-key \(keyPath) does not belong to the first certificate of --tls-cert \(certificatePath)")
        }
        return Pair(chain: chain, key: key)
    }
}
