extension BrokerRequestContext {
    /// The client's IP address, from the connection (not from forwarded headers, which a client can forge).
    var clientAddress: String? { remoteAddress?.ipAddress }
}
