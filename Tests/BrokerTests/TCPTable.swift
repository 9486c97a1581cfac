import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The kernel's table of this network namespace's TCP sockets (`/proc/net/tcp` and `tcp6`), for tests that wait
/// for a server to have done something on a connection rather than for a time. Reading it is a file read: it
/// never blocks on the network.
struct TCPTable {
    struct Entry {
        var localPort: Int
        var remotePort: Int
        /// `0A` is LISTEN, `01` ESTABLISHED.
        var state: String
        /// Bytes received and not yet read by the process that owns the socket.
        var receiveQueue: Int
        /// 0 while nobody owns the socket yet (a connection still waiting in a listener's backlog).
        var inode: Int
    }

    let entries: [Entry]

    /// The table as it is now.
    init() {
        var entries = [Entry]()
        for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
            // `/proc` files report a size of 0: read to the end rather than by size.
            guard let handle = FileHandle(forReadingAtPath: path) else { continue }
            let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            try? handle.close()
            // `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...`
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, let local = Self.port(fields[1]), let remote = Self.port(fields[2]) else { continue }
                let queues = fields[4].split(separator: ":")
                guard queues.count == 2, let received = Int(queues[1], radix: 16), let inode = Int(fields[9]) else { continue }
                entries.append(Entry(localPort: local, remotePort: remote, state: String(fields[3]), receiveQueue: received, inode: inode))
            }
        }
        self.entries = entries
    }

    /// The port of an `address:port` field (both in hex).
    private static func port(_ field: Substring) -> Int? {
        field.split(separator: ":").last.flatMap { Int($0, radix: 16) }
    }

    /// Whether some socket listens on `port`.
    func isListening(port: Int) -> Bool {
        entries.contains { $0.localPort == port && $0.state == "0A" }
    }

    /// Whether the server end of the loopback connection from `clientPort` to `serverPort` has been accepted and
    /// has read every byte that arrived on it (what was sent so far: loopback delivers a send at once).
    func serverHasRead(serverPort: Int, clientPort: Int) -> Bool {
        entries.contains { $0.localPort == serverPort && $0.remotePort == clientPort && $0.inode != 0 && $0.receiveQueue == 0 }
    }
}

extension RawConnection {
    /// The local port of this connection.
    var localPort: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return result == 0 ? Int(UInt16(bigEndian: address.sin_port)) : 0
    }

    /// Whether the server on `port` has accepted this connection and read everything sent on it so far (so that
    /// a partly sent request is in its hands, not in a socket buffer). Does not block.
    func serverHasReadEverything(port: Int) -> Bool {
        TCPTable().serverHasRead(serverPort: port, clientPort: localPort)
    }
}

/// Polls `condition` every `interval` until it holds or `timeout` passes, and says whether it held: for waiting
/// on something that happens elsewhere (a request read, a listener closed, a call arriving) instead of sleeping
/// a fixed time, too short on a loaded machine and needlessly long on an idle one.
func eventually(
    within timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(10), _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try await Task.sleep(for: interval)
    }
}
