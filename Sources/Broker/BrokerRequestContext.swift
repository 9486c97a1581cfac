import HTTPTypes
import Hummingbird
import Logging

/// Per-request state carried through middleware and handlers.
public struct BrokerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The request id echoed in `X-Request-Id` and attached to every log line of the request.
    public var requestId: String = ""

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    /// Bodies above this are refused with 413 (the contract's default limit).
    public var maxUploadSize: Int { 64 * 1024 }
}
