import Broker
import Foundation
import KeyRing
import Logging
import StoreTestSupport
import TenantRegistry

/// A broker assembled in-process around a fresh key ring and a fresh SQLite store, for router-level tests.
struct InProcessBroker {
    let scratch = ScratchDirectory()
    let broker: BrokerApplication
    let keysDir: String

    init(flags: [String: String] = [:]) async throws {
        keysDir = scratch.path + "/keys"
        var all = flags
        all["keysDir"] = keysDir
        all["database"] = all["database"] ?? "sqlite:\(scratch.path)/registry.sqlite"
        let configuration = try BrokerConfiguration.load(flags: all, environment: [:])
        let logger = Logger(label: "test")
        let ring = try KeyRing(directory: KeyRingDirectory(path: keysDir), bootstrap: true, logger: logger)
        let store = try await SQLTenantStore.open(configuration.database, sealer: try SecretsKey.sealer(configuration, logger: logger), logger: logger)
        let tenants = TenantService(store: store, baseDomain: configuration.baseDomain, logger: logger)
        broker = BrokerApplication(configuration: configuration, keyRing: ring, tenants: tenants, logger: logger)
        // As RegistryHarness does: a set-up that outlives the store's deadline in a loaded run's first seconds is
        // tried again (twice) rather than failing a test that is not about it.
        var attempt = 1
        while true {
            do {
                try await broker.prepare()
                return
            } catch let error as StoreError {
                guard case .unavailable = error, attempt < 3 else { throw error }
                attempt += 1
            }
        }
    }
}

/// Locates the built `token-broker` executable next to the test bundle.
enum BuiltBinary {
    static var path: String {
        get throws {
            if let override = ProcessInfo.processInfo.environment["TOKEN_BROKER_BINARY"] { return override }
            var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            for _ in 0..<4 {
                url.deleteLastPathComponent()
                let candidate = url.appendingPathComponent("token-broker").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
            throw TestFailure("token-broker binary not found next to \(CommandLine.arguments[0]); run `swift build` first")
        }
    }
}

/// A Python helper from `Tests/Support/scripts` that listens on loopback and prints "listening <port> <pid>" as
/// its first line; killed when this is released.
final class LoopbackScript: Sendable {
    let port: Int
    /// Python's own pid (an interpreter shim may sit between it and the process started here).
    let pid: Int32

    init(_ script: String, _ arguments: [String]) throws {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", PythonPeer.repositoryRoot + "/Tests/Support/scripts/" + script] + arguments
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // One line, read byte by byte (FileHandle.availableData may wait for more than it has).
        var bytes = [UInt8]()
        var byte: UInt8 = 0
        let fd = output.fileHandleForReading.fileDescriptor
        while bytes.count < 64, read(fd, &byte, 1) == 1, byte != 0x0A { bytes.append(byte) }
        let line = String(decoding: bytes, as: UTF8.self)
        let words = line.split(separator: " ")
        guard words.count == 3, words[0] == "listening", let port = Int(words[1]), let pid = Int32(words[2]) else {
            // It failed before listening (a missing Python module, say): its standard error says why.
            process.terminate()
            process.waitUntilExit()
            let why = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw TestFailure("\(script) did not start: \(line)\n\(why)")
        }
        // From here on nothing reads its standard error: let it go nowhere rather than fill a pipe.
        try? errors.fileHandleForReading.close()
        self.port = port
        self.pid = pid
    }

    deinit { kill(pid, SIGKILL) }
}
