import AsyncHTTPClient
import Foundation
import JOSE
import Logging
import NIOCore
import Synchronization
import Upstream

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
        /// `token_endpoint_auth_methods_supported`, when the provider lists it.
        public let tokenEndpointAuthMethods: [String]?
    }

    let httpClient: HTTPClient
    let logger: Logger
    private let known = Mutex<[String: (metadata: Metadata, fetchedAt: ContinuousClock.Instant)]>([:])
    private let failures = Mutex<[String: ContinuousClock.Instant]>([:])
    let retryInterval: Duration
    /// Metadata older than this is fetched again on next use; the old copy keeps serving if that fails.
    let maxAge: Duration
    /// How long one fetch of a metadata document may take (`--keycloak-timeout`).
    let timeout: Duration

    /// Told how long each fetch of a metadata document took, success or failure alike (for a latency histogram).
    let onFetch: @Sendable (Duration) -> Void

    public init(
        httpClient: HTTPClient = UpstreamHTTP.client, retryInterval: Duration = .seconds(10), maxAge: Duration = .seconds(3600),
        timeout: Duration = .seconds(10), logger: Logger, onFetch: @escaping @Sendable (Duration) -> Void = { _ in }
    ) {
        self.httpClient = httpClient
        self.timeout = timeout
        self.retryInterval = retryInterval
        self.maxAge = maxAge
        self.logger = logger
        self.onFetch = onFetch
    }

    /// Metadata for `issuer`, from memory or fetched now. nil when the provider cannot be reached or lies about its issuer
    /// and no earlier copy is known.
    public func metadata(for issuer: String) async -> Metadata? {
        let cached = known.withLock { $0[issuer] }
        if let cached, ContinuousClock.now - cached.fetchedAt < maxAge { return cached.metadata }
        let recentlyFailed = failures.withLock { failures in
            failures[issuer].map { ContinuousClock.now - $0 < retryInterval } ?? false
        }
        if recentlyFailed { return cached?.metadata }
        let start = ContinuousClock.now
        defer { onFetch(ContinuousClock.now - start) }
        do {
            var request = HTTPClientRequest(url: issuer + "/.well-known/openid-configuration")
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await httpClient.tracedExecute(request, timeout: timeout.timeAmount, operation: "OIDC GET discovery")
            guard response.status == .ok else { throw DiscoveryError.status(Int(response.status.code)) }
            let document = try JSONParser(maxBytes: 256 * 1024).parseObject(Array(buffer: try await response.body.collect(upTo: 256 * 1024)))
            // OIDC Discovery §4.3: the issuer in the document must be the one asked for.
            guard document["issuer"]?.stringValue == issuer, let jwks = document["jwks_uri"]?.stringValue else {
                throw DiscoveryError.mismatch
            }
            let metadata = Metadata(
                issuer: issuer, jwksURI: jwks, tokenEndpoint: document["token_endpoint"]?.stringValue,
                introspectionEndpoint: document["introspection_endpoint"]?.stringValue,
                endSessionEndpoint: document["end_session_endpoint"]?.stringValue, revocationEndpoint: document["revocation_endpoint"]?.stringValue,
                tokenEndpointAuthMethods: document["token_endpoint_auth_methods_supported"]?.arrayValue?.compactMap(\.stringValue))
            known.withLock { $0[issuer] = (metadata, ContinuousClock.now) }
            failures.withLock { $0[issuer] = nil }
            return metadata
        } catch {
            failures.withLock { $0[issuer] = ContinuousClock.now }
            logger.warning("OIDC discovery failed", metadata: ["issuer": .string(issuer), "error": .string("\(error)")])
            return cached?.metadata
        }
    }

    enum DiscoveryError: Error {
        case status(Int)
        case mismatch
    }
}
