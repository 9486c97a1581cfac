import AsyncHTTPClient
import NIOCore

/// The HTTP client every upstream call shares: one connection pool per host, a bounded connect time.
/// Static, so it lives as long as the process and never needs a shutdown.
///
/// A failed connection attempt fails the request at once: AsyncHTTPClient's default retries it with backoff
/// until the connect timeout, so a refused connection (Keycloak or an OTP Manager down) cost every login the
/// whole 3 s before its 503. The OTP client retries by its own rules (`--otp-tries`, backoff, deadline).
public enum UpstreamHTTP {
    public static let client: HTTPClient = {
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)
        pool.retryConnectionEstablishment = false
        return HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: HTTPClient.Configuration(timeout: .init(connect: .seconds(3)), connectionPool: pool, decompression: .disabled))
    }()
}

extension UpstreamHTTP {
    /// Whether the call failed before a request could have been sent: no connection was made (refused, connect
    /// timeout). Such a call is safe to repeat even when the request is not idempotent.
    public static func isConnectFailure(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError, error == .connectTimeout { return true }
        let name = String(describing: type(of: error))
        return name.contains("Connect") || "\(error)".contains("connectionRefused") || "\(error)".contains("Connection refused")
    }
}

extension Duration {
    /// The same span as NIO's `TimeAmount`.
    public var timeAmount: TimeAmount {
        .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
    }
}
