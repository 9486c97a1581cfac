import Foundation
import StoreTestSupport
import Testing

/// The shipped unit file, checked by systemd's own tools where they exist.
@Suite("systemd unit") struct SystemdUnitTests {
    static let analyze = "/usr/bin/systemd-analyze"

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: analyze)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A copy of systemd/token-broker.service whose ExecStart names the binary just built.
    static func unitCopy(in scratch: ScratchDirectory) throws -> String {
        let unit = try String(contentsOfFile: PythonPeer.repositoryRoot + "/systemd/token-broker.service", encoding: .utf8)
        let path = scratch.path + "/token-broker.service"
        try unit.replacingOccurrences(of: "/usr/local/bin/token-broker", with: try BuiltBinary.path).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("systemd-analyze verify finds nothing to complain about", .enabled(if: FileManager.default.isExecutableFile(atPath: analyze)))
    func verify() throws {
        let scratch = ScratchDirectory()
        let result = try Self.run(["verify", "--man=no", try Self.unitCopy(in: scratch)])
        #expect(result.status == 0)
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(result.output)")
    }

    @Test("systemd-analyze security rates the unit's exposure at 2.0 or lower", .enabled(if: FileManager.default.isExecutableFile(atPath: analyze)))
    func security() throws {
        let scratch = ScratchDirectory()
        let result = try Self.run(["security", "--offline=true", try Self.unitCopy(in: scratch)])
        let line = try #require(result.output.split(separator: "\n").first { $0.contains("Overall exposure level") })
        let score = line.split(separator: " ").compactMap { Double($0) }.first
        #expect(score != nil && score! <= 2.0, "\(line)")
    }

    @Test("the unit is Type=notify with the hardening the operations issue lists")
    func directives() throws {
        let unit = try String(contentsOfFile: PythonPeer.repositoryRoot + "/systemd/token-broker.service", encoding: .utf8)
        for directive in [
            "Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "User=token-broker", "StateDirectory=", "ConfigurationDirectory=",
            "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
            "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service", "CapabilityBoundingSet=\n",
            "MemoryDenyWriteExecute=yes", "LockPersonality=yes", "UMask=0077", "LimitNOFILE=", "WatchdogSec=",
        ] {
            #expect(unit.contains(directive), "missing \(directive)")
        }
    }
}
