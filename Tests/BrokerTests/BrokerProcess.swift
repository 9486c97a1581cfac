import Foundation
import JOSE
import StoreTestSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The real `token-broker` binary run as a child process, for tests of signals, start-up and the CLI.
final class BrokerProcess: Sendable {
    let process: Process
    private let stderrText = Mutex<String>("")
    private let stdoutText = Mutex<String>("")
    /// Readability handlers running now: each has read, or is reading, bytes it has not yet appended.
    private let collecting = Atomic<Int>(0)
    let port: Int

    private init(process: Process, port: Int) {
        self.process = process
        self.port = port
    }

    /// Everything the process wrote to standard error so far.
    var log: String { stderrText.withLock { $0 } }
    /// Everything the process wrote to standard output so far.
    var output: String { stdoutText.withLock { $0 } }

    var pid: Int32 { process.processIdentifier }

    /// The environment without any TOKEN_BROKER_* the developer may have set, plus `extra`.
    static func environment(_ extra: [String: String]) -> [String: String] {
        // The developer's own broker and OpenTelemetry settings must not change what a test starts.
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TOKEN_BROKER_") && !$0.key.hasPrefix("OTEL_") }
        for (key, value) in extra { env[key] = value }
        return env
    }

    /// Starts the binary with `arguments` (no "serve" implied) and returns without waiting.
    static func launch(_ arguments: [String], environment extra: [String: String] = [:], directory: String) throws -> BrokerProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try BuiltBinary.path)
        process.arguments = arguments
        process.environment = environment(extra)
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let errPipe = Pipe()
        let outPipe = Pipe()
        process.standardError = errPipe
        process.standardOutput = outPipe
        process.standardInput = FileHandle.nullDevice
        let broker = BrokerProcess(process: process, port: 0)
        errPipe.fileHandleForReading.readabilityHandler = { handle in
            broker.collect(handle) { text in broker.stderrText.withLock { $0 += text } }
        }
        outPipe.fileHandleForReading.readabilityHandler = { handle in
            broker.collect(handle) { text in broker.stdoutText.withLock { $0 += text } }
        }
        try process.run()
        return broker
    }

    /// Starts `serve --port 0 --log-format json` and waits (polling, with a deadline) until it listens.
    static func serve(
        keysDir: String, directory: String, extraArguments: [String] = [], environment: [String: String] = [:]
    ) async throws -> BrokerProcess {
        let started = try launch(
            ["serve", "--host", "127.0.0.1", "--port", "0", "--log-format", "json", "--keys-dir", keysDir] + extraArguments,
            environment: environment, directory: directory)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let port = listeningPort(in: started.log) {
                return BrokerProcess(adopting: started, port: port)
            }
            if !started.process.isRunning {
                throw TestFailure("broker exited with \(started.process.terminationStatus) before listening:\n\(started.log)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        started.process.terminate()
        throw TestFailure("broker did not listen within 30 s:\n\(started.log)")
    }

    private convenience init(adopting other: BrokerProcess, port: Int) {
        self.init(process: other.process, port: port)
        // Keep collecting output into the adopted instance.
        let err = other.process.standardError as! Pipe
        let out = other.process.standardOutput as! Pipe
        let existingErr = other.log
        let existingOut = other.output
        stderrText.withLock { $0 = existingErr }
        stdoutText.withLock { $0 = existingOut }
        err.fileHandleForReading.readabilityHandler = { [self] handle in
            collect(handle) { text in stderrText.withLock { $0 += text } }
        }
        out.fileHandleForReading.readabilityHandler = { [self] handle in
            collect(handle) { text in stdoutText.withLock { $0 += text } }
        }
    }

    /// A readability handler's body: reads what the pipe has and hands it to `append`; at end-of-file it stops
    /// watching the pipe. Counted in `collecting` from before the read until after the append (see `drained`).
    private func collect(_ handle: FileHandle, _ append: (String) -> Void) {
        collecting.add(1, ordering: .sequentiallyConsistent)
        defer { collecting.subtract(1, ordering: .sequentiallyConsistent) }
        let data = handle.availableData
        guard !data.isEmpty else {
            handle.readabilityHandler = nil
            return
        }
        append(String(decoding: data, as: UTF8.self))
    }

    /// Whether everything the exited process wrote is in `log` and `output`: no byte left unread in either pipe, and
    /// no handler between reading some and appending them. (End-of-file alone is not enough: a copy of a pipe's write
    /// end left open somewhere keeps it from coming; runs of this suite saw one in the test process itself.)
    private var drained: Bool {
        let pipes = [process.standardError, process.standardOutput].compactMap { $0 as? Pipe }
        let unread = pipes.contains { pipe in
            var count: Int32 = 0
            return ioctl(pipe.fileHandleForReading.fileDescriptor, UInt(FIONREAD), &count) != 0 || count > 0
        }
        return !unread && collecting.load(ordering: .sequentiallyConsistent) == 0
    }

    static func listeningPort(in log: String) -> Int? {
        for line in log.split(separator: "\n") where line.contains("token-broker listening") {
            if let object = try? JSONParser().parseObject(Array(line.utf8)), let port = object["port"]?.stringValue.flatMap(Int.init) {
                return port
            }
        }
        return nil
    }

    /// Sends `signal` while the process runs (never to a pid the system may have handed to another process since).
    func signal(_ signal: Int32) {
        guard process.isRunning else { return }
        kill(pid, signal)
    }

    /// Waits for exit (polling) and returns the exit status; throws if it outlives `timeout`.
    func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                throw TestFailure("process \(pid) still running after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Until the pipes are drained, not for a time; after 5 s the status is returned with what was collected.
        let drainDeadline = ContinuousClock.now + .seconds(5)
        while !drained, ContinuousClock.now < drainDeadline { try await Task.sleep(for: .milliseconds(5)) }
        return process.terminationStatus
    }

    /// Runs the binary to completion and returns its exit status and output.
    static func run(_ arguments: [String], environment: [String: String] = [:], directory: String) async throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        let process = try launch(arguments, environment: environment, directory: directory)
        let status = try await process.waitForExit()
        return (status, process.output, process.log)
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }
}

/// Sends `requests` on one connection one at a time, each after the previous one's response has arrived (so no
/// request waits behind another), and returns every response in order. The socket calls block, so they run on
/// a thread of their own: on one of Swift concurrency's threads they would hold up an in-process server.
func exchangeOneByOne(port: Int, _ requests: [String]) async throws -> String {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
        Thread {
            do {
                let connection = try RawConnection(port: port)
                var text = ""
                for request in requests {
                    connection.send(request)
                    text += connection.readResponse()
                }
                continuation.resume(returning: text)
            } catch {
                continuation.resume(throwing: error)
            }
        }.start()
    }
}

/// A raw TCP connection, for requests that must be held open half-sent.
/// Its reads block (up to the 10 s receive timeout), so they are `noasync`: on one of Swift concurrency's few
/// threads (two on a 2-core CI machine) a blocked read holds up the in-process servers of every test running
/// beside it, which then answer nobody until the read times out. A CI run (stop 28) failed that way. Read inside
/// `offPool { }`, which runs on a thread of its own.
final class RawConnection {
    let fd: Int32

    /// `fd` is set only once connected. An initializer that throws after every stored property is set still
    /// runs `deinit`: this one used to set `fd` first, close it on a refused connect and throw, and `deinit`
    /// closed the same number again. By then another thread could hold that number (a SQLite database, a
    /// child's pipe): `RawConnection.accepts` polls a draining listener every 10 ms, and a CI run (eighth
    /// session) saw SQLite "disk I/O error"s in unrelated tests and a crash on a pipe's bad descriptor.
    init(port: Int) throws {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw TestFailure("socket failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socketFD, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            close(socketFD)
            throw TestFailure("connect failed: errno \(code)")
        }
        fd = socketFD
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Half-closes the connection: the peer reads end-of-file, and can still answer.
    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads until the peer closes or the receive timeout passes.
    @available(*, noasync, message: "blocks until the peer answers: call it inside offPool { }")
    func readAll() -> String {
        var result = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            result.append(contentsOf: buffer.prefix(count))
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Reads once (whatever has arrived, up to 64 KiB).
    @available(*, noasync, message: "blocks until the peer answers: call it inside offPool { }")
    func readOnce() -> String {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : ""
    }

    /// Reads one whole HTTP/1.1 response (head, and a body of `Content-Length` bytes or chunks up to the last),
    /// or what arrived before the peer closed or the receive timeout passed.
    @available(*, noasync, message: "blocks until the peer answers: call it inside offPool { }")
    func readResponse() -> String {
        var result = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !Self.isComplete(result) {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            result.append(contentsOf: buffer.prefix(count))
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Whether `bytes` hold a whole response (this is for tests' own responses: no 1xx, no trailers).
    static func isComplete(_ bytes: [UInt8]) -> Bool {
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound else { return false }
        let head = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
        if let line = head.components(separatedBy: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
            let length = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces))
        {
            return bytes.count - end >= length
        }
        if head.contains("transfer-encoding: chunked") { return bytes.count > end && bytes.suffix(5).elementsEqual(Array("0\r\n\r\n".utf8)) }
        return true
    }

    /// Reads until the peer closes; `closed` is false when the receive timeout ended the read instead.
    @available(*, noasync, message: "blocks until the peer answers: call it inside offPool { }")
    func readUntilClosed() -> (text: String, closed: Bool) {
        var result = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { return (String(decoding: result, as: UTF8.self), true) }
            if count < 0 { return (String(decoding: result, as: UTF8.self), false) }
            result.append(contentsOf: buffer.prefix(count))
        }
    }

    /// Whether a new connection to `port` is accepted right now.
    static func accepts(port: Int) -> Bool {
        (try? RawConnection(port: port)) != nil
    }
}

extension RawConnection: @unchecked Sendable {
    /// Whether the peer has closed the connection (a read would return end-of-file now); does not block.
    func peerClosed() -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_DONTWAIT) | Int32(MSG_PEEK)) == 0
    }
}
