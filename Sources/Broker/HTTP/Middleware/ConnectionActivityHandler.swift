import NIOCore

/// The first handler of a connection: tells `RequestDeadlineHandler` that bytes arrived, before any decoder
/// (TLS or HTTP) sees them, so a head that starts after an idle keep-alive pause gets its deadline.
final class ConnectionActivityHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let deadlines: RequestDeadlineHandler

    init(deadlines: RequestDeadlineHandler) {
        self.deadlines = deadlines
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        deadlines.bytesArrived()
        context.fireChannelRead(data)
    }
}
