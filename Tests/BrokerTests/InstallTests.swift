import Foundation
import StoreTestSupport
import Testing

/// scripts/install into a temporary root, checked by systemd's own verifier.
@Suite("scripts/install", .serialized) struct InstallTests {
    static let install = PythonPeer.repositoryRoot + "/scripts/install"

    static func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test("--dry-run changes nothing; an install lays out the tree with its modes, enables the unit, and systemd-analyze verify passes on it; a second install keeps settings and secrets")
    func installIntoPrefix() async throws {
        let scratch = ScratchDirectory()
        let root = scratch.path + "/root"
        let binary = try BuiltBinary.path
        let dry = try await runTool("/usr/bin/env", ["bash", Self.install, "--prefix", root, "--dry-run", "--binary", binary])
        #expect(dry.contains("install -D -m 0755") && dry.contains("token-broker.service"), "\(dry)")
        #expect(!FileManager.default.fileExists(atPath: root), "--dry-run made nothing")

        _ = try await runTool("/usr/bin/env", ["bash", Self.install, "--prefix", root, "--binary", binary])
        for (path, mode) in [
            ("/usr/local/bin/token-broker", 0o755), ("/etc/token-broker", 0o750), ("/etc/token-broker/token-broker.json", 0o640),
            ("/etc/token-broker/token-broker.env", 0o640), ("/var/lib/token-broker", 0o700), ("/var/lib/token-broker/keys", 0o700),
            ("/etc/systemd/system/token-broker.service", 0o644),
        ] {
            let actual = try Self.mode(root + path)
            #expect(actual == mode, "\(path): \(String(actual, radix: 8))")
        }
        let wants = root + "/etc/systemd/system/multi-user.target.wants/token-broker.service"
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: wants)) != nil, "the unit is enabled")
        let config = try String(contentsOfFile: root + "/etc/token-broker/token-broker.json", encoding: .utf8)
        #expect(config.contains("sqlite:/var/lib/token-broker/token-broker.sqlite") && config.contains("/var/lib/token-broker/keys"))
        let unit = try String(contentsOfFile: root + "/etc/systemd/system/token-broker.service", encoding: .utf8)
        #expect(unit.contains("EnvironmentFile=-/etc/token-broker/token-broker.env") && unit.contains("--config /etc/token-broker/token-broker.json"))

        // The installed binary's settings load as the daemon would read them.
        let loaded = try await runTool(root + "/usr/local/bin/token-broker", ["serve", "--help"])
        #expect(loaded.contains("--config"))

        if FileManager.default.isExecutableFile(atPath: SystemdUnitTests.analyze) {
            // What the verifier needs of a system besides the install: systemd's own units and /bin/kill (ExecReload).
            _ = try await runTool("/usr/bin/env", ["mkdir", "-p", root + "/usr/lib/systemd", root + "/bin"])
            _ = try await runTool("/usr/bin/env", ["cp", "-a", "/usr/lib/systemd/system", root + "/usr/lib/systemd/"])
            _ = try await runTool("/usr/bin/env", ["cp", "/bin/kill", root + "/bin/kill"])
            let verified = try SystemdUnitTests.run(["verify", "--man=no", "--root=\(root)", "token-broker.service"])
            #expect(verified.status == 0, "\(verified.output)")
            #expect(verified.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(verified.output)")
        }

        // Again, as after an upgrade: the operator's settings and secrets stay.
        try Data("{\"database\": \"postgres://x@db/y\"}".utf8).write(to: URL(fileURLWithPath: root + "/etc/token-broker/token-broker.json"))
        try Data("TOKEN_BROKER_KEYCLOAK_CLIENT_SECRET=kept\n".utf8).write(to: URL(fileURLWithPath: root + "/etc/token-broker/token-broker.env"))
        let again = try await runTool("/usr/bin/env", ["bash", Self.install, "--prefix", root, "--binary", binary])
        #expect(again.contains("token-broker.json exists, kept") && again.contains("token-broker.env exists, kept"), "\(again)")
        #expect(try String(contentsOfFile: root + "/etc/token-broker/token-broker.json", encoding: .utf8).contains("postgres://x@db/y"))
        #expect(try String(contentsOfFile: root + "/etc/token-broker/token-broker.env", encoding: .utf8).contains("kept"))
    }
}
