import Foundation
import StoreTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A datagram socket standing in for systemd's NOTIFY_SOCKET.
final class NotifySocket {
    let fd: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw TestFailure("cannot bind \(path): errno \(errno)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Messages received until `until` matches one (or the deadline passes), in order.
    func collect(deadline: Duration = .seconds(20), until done: (String) -> Bool) -> [String] {
        var messages = [String]()
        let end = ContinuousClock.now + deadline
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < end {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { continue }
            let message = String(decoding: buffer.prefix(count), as: UTF8.self)
            messages.append(message)
            if done(message) { break }
        }
        return messages
    }
}

@Suite("systemd notification", .serialized) struct SystemdNotifyTests {
    @Test("READY=1 once listening, RELOADING=1 then READY=1 around SIGHUP, WATCHDOG=1 when asked, STOPPING=1 on SIGTERM")
    func notifications() async throws {
        let scratch = ScratchDirectory()
        let notify = try NotifySocket(path: scratch.path + "/notify.sock")
        let broker = try BrokerProcess.launch(
            ["serve", "--port", "0", "--log-format", "json", "--keys-dir", scratch.path + "/keys", "--database", "sqlite:\(scratch.path)/db.sqlite"],
            environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"], directory: scratch.path)
        defer { broker.signal(SIGKILL) }

        let startup = notify.collect { $0.contains("READY=1") }
        let ready = try #require(startup.last)
        #expect(ready.contains("READY=1"))
        #expect(ready.contains("MAINPID=\(broker.pid)"))
        // The listening log line is written before READY=1; the pipe may deliver it a moment later.
        let logDeadline = ContinuousClock.now + .seconds(5)
        while BrokerProcess.listeningPort(in: broker.log) == nil, ContinuousClock.now < logDeadline { try await Task.sleep(for: .milliseconds(10)) }
        let port = try #require(BrokerProcess.listeningPort(in: broker.log), "no listening line")
        #expect(RawConnection.accepts(port: port), "READY=1 came before the listener accepted connections")

        let watchdog = notify.collect(deadline: .seconds(5)) { $0 == "WATCHDOG=1" }
        #expect(watchdog.contains("WATCHDOG=1"))

        broker.signal(SIGHUP)
        let reload = notify.collect { $0.hasPrefix("READY=1") }.filter { $0 != "WATCHDOG=1" }
        #expect(reload.count == 2, "\(reload)")
        #expect(reload.first?.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") == true)
        #expect(reload.last?.hasPrefix("READY=1") == true)

        broker.signal(SIGTERM)
        let stop = notify.collect { $0 == "STOPPING=1" }
        #expect(stop.last == "STOPPING=1")
        #expect(try await broker.waitForExit() == 0)
    }
}
