import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Tokens

/// Per-request state carried through middleware and handlers.
public struct BrokerRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The request id echoed in `X-Request-Id` and attached to every log line of the request.
    public var requestId: String = ""
    /// The authenticated caller, if any authenticator recognised the credentials.
    public var caller: CallerIdentity?
    /// Set by the observability middleware on routes whose handler learns the tenant while answering
    /// (forward-auth); nil elsewhere. Path-parameter tenants go straight into the logger's metadata instead.
    var tenantReport: TenantReport?

    /// The connection, kept so that the peer address is read only by the handlers that need it (login
    /// throttling), not on every request.
    let channel: any Channel

    /// The peer of the connection (nil in router-level tests).
    public var remoteAddress: SocketAddress? { channel.remoteAddress }

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// Bodies above this are refused with 413 (the contract's default limit; tenant bodies allow 1 MiB).
    public var maxUploadSize: Int { 64 * 1024 }
}
