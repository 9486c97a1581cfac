import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Per-request state carried through middleware and handlers.
public struct BrokerRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The request id echoed in `X-Request-Id` and attached to every log line of the request.
    public var requestId: String = ""
    /// The authenticated caller, if any authenticator recognised the credentials.
    public var caller: CallerIdentity?

    /// The peer of the connection (nil in router-level tests).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// Bodies above this are refused with 413 (the contract's default limit; tenant bodies allow 1 MiB).
    public var maxUploadSize: Int { 64 * 1024 }
}
