import AsyncHTTPClient
import Foundation
import JOSE
import Logging
import NIOCore
import Synchronization

/// OpenID provider metadata of the issuers the broker trusts, fetched once from
/// `{issuer}/.well-known/openid-configuration` and kept; a failed lookup is retried at most every 10 s.
/// Endpoints come from discovery, never from Keycloak-specific paths, so any OIDC provider works.
public final class OIDCDiscovery: Sendable {
    /// The parts of the metadata the broker uses.
    public struct Metadata: Sendable, Equatable {
        public let issuer: String
        public let jwksURI: String
        public let tokenEndpoint: String?
        public let introspectionEndpoint: String?
        public let endSessionEndpoint: String?
        public let revocationEndpoint: String?
    }

    let httpClient: HTTPClient
    let logger: Logger
    private let known = Mutex<[String: Metadata]>([:])
    private let failures = Mutex<[String: ContinuousClock.Instant]>([:])
    let retryInterval: Duration

    public init(httpClient: HTTPClient = .shared, retryInterval: Duration = .seconds(10), logger: Logger) {
        self.httpClient = httpClient
        self.retryInterval = retryInterval
        self.logger = logger
    }

    /// Metadata for `issuer`, from memory or fetched now. nil when the provider cannot be reached or lies about its issuer.
    public func metadata(for issuer: String) async -> Metadata? {
        if let cached = known.withLock({ $0[issuer] }) { return cached }
        let recentlyFailed = failures.withLock { failures in
            failures[issuer].map { ContinuousClock.now - $0 < retryInterval } ?? false
        }
        if recentlyFailed { return nil }
        do {
            var request = HTTPClientRequest(url: issuer + "/.well-known/openid-configuration")
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await httpClient.execute(request, timeout: .seconds(5))
            guard response.status == .ok else { throw DiscoveryError.status(Int(response.status.code)) }
            let document = try JSONParser(maxBytes: 256 * 1024).parseObject(Array(buffer: try await response.body.collect(upTo: 256 * 1024)))
            // OIDC Discovery §4.3: the issuer in the document must be the one asked for.
            guard document["issuer"]?.stringValue == issuer, let jwks = document["jwks_uri"]?.stringValue else {
                throw DiscoveryError.mismatch
            }
            let metadata = Metadata(
                issuer: issuer, jwksURI: jwks, tokenEndpoint: document["token_endpoint"]?.stringValue,
                introspectionEndpoint: document["introspection_endpoint"]?.stringValue,
                endSessionEndpoint: document["end_session_endpoint"]?.stringValue, revocationEndpoint: document["revocation_endpoint"]?.stringValue)
            known.withLock { $0[issuer] = metadata }
            return metadata
        } catch {
            failures.withLock { $0[issuer] = ContinuousClock.now }
            logger.warning("OIDC discovery failed", metadata: ["issuer": .string(issuer), "error": .string("\(error)")])
            return nil
        }
    }

    enum DiscoveryError: Error {
        case status(Int)
        case mismatch
    }
}
