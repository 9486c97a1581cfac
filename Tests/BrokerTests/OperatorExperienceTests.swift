import Foundation
import StoreTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What an operator sees when something is set up wrong, and how the offline commands find the daemon's store:
/// the real binary, its exit status and its words.
@Suite("operator experience: start-up errors that say what to do, a CLI that finds the daemon's store", .serialized)
struct OperatorExperienceTests {
    /// The test PostgreSQL's host and port.
    static func postgres() throws -> (host: String, port: Int) {
        let components = try #require(URLComponents(string: try Backend.postgresURL))
        return (components.host ?? "127.0.0.1", components.port ?? 5432)
    }

    /// A port nothing listens on (bound, then closed).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test("a port in use names the address and --port")
    func portInUse() async throws {
        let scratch = ScratchDirectory()
        let first = try await BrokerProcess.serve(keysDir: scratch.path + "/keys", directory: scratch.path)
        defer { first.signal(SIGKILL) }
        let second = try await BrokerProcess.run(
            ["serve", "--port", String(first.port), "--keys-dir", scratch.path + "/keys", "--database", "sqlite:\(scratch.path)/other.sqlite"],
            directory: scratch.path)
        #expect(second.status == 1)
        #expect(second.stderr.contains("token-broker: cannot listen on 127.0.0.1:\(first.port): the address is already in use"), "\(second.stderr.suffix(600))")
        #expect(second.stderr.contains("--port") && !second.stderr.contains("token-broker: token-broker:"), "\(second.stderr.suffix(600))")
    }

    @Test("PostgreSQL at start-up: a wrong password, an unknown database, a refused connection and a failed TLS check are told apart")
    func postgresFailures() async throws {
        let scratch = ScratchDirectory()
        let (host, port) = try Self.postgres()
        // A CA that signed nothing the server has: verify-full must fail on the handshake.
        _ = try await runTool(
            "/usr/bin/env",
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=stranger", "-days", "1",
             "-keyout", scratch.path + "/stranger.key", "-out", scratch.path + "/stranger.crt"])
        let cases: [(url: String, words: String)] = [
            ("postgres://pwcheck:wrong-password@\(host):\(port)/broker_test", "refused the password of user pwcheck"),
            ("postgres://broker:broker@\(host):\(port)/no_such_database", "has no database no_such_database"),
            ("postgres://broker:broker@127.0.0.1:\(try Self.freePort())/broker_test", "refused the connection: is PostgreSQL running"),
            ("postgres://broker:broker@\(host):\(port)/broker_test?sslmode=verify-full&sslrootcert=\(scratch.path)/stranger.crt", "the TLS handshake failed"),
        ]
        for (url, words) in cases {
            let started = ContinuousClock.now
            let result = try await BrokerProcess.run(
                ["serve", "--port", "0", "--keys-dir", scratch.path + "/keys", "--database", url], directory: scratch.path)
            #expect(result.status == 1, "\(url)")
            #expect(result.stderr.contains(words), "\(url): \(result.stderr.suffix(700))")
            #expect(!result.stderr.contains("no answer within"), "named, not timed out: \(result.stderr.suffix(400))")
            #expect(!result.stderr.contains("wrong-password"), "the password is never shown")
            #expect(ContinuousClock.now - started < .seconds(20))
        }
        // The right password for the same role starts (pwcheck may not create tables, so migrate is what fails next).
        let ok = try await BrokerProcess.run(
            ["migrate", "--database", "postgres://pwcheck:pwcheck-password@\(host):\(port)/broker_test"], directory: scratch.path)
        #expect(!ok.stderr.contains("refused the password"), "\(ok.stderr.suffix(400))")
    }

    @Test("an unknown scope lists the valid ones")
    func unknownScope() async throws {
        let scratch = ScratchDirectory()
        let result = try await BrokerProcess.run(
            ["api-keys", "create", "--name", "n", "--scopes", "mint", "--database", "sqlite:\(scratch.path)/s.sqlite", "--create"], directory: scratch.path)
        #expect(result.status != 0)
        #expect(result.stderr.contains("'mint' is not a scope") && result.stderr.contains("token:mint") && result.stderr.contains("tenants:write"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/s.sqlite"), "nothing was created for a refused command")
    }

    @Test("a SQLite store in a directory that does not exist is refused unless --create; the default data/ is still made")
    func missingDirectory() async throws {
        let scratch = ScratchDirectory()
        let database = "sqlite:\(scratch.path)/missing/dir/x.sqlite"
        let refused = try await BrokerProcess.run(["serve", "--port", "0", "--keys-dir", scratch.path + "/keys", "--database", database], directory: scratch.path)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("the directory \(scratch.path)/missing/dir of the SQLite store") && refused.stderr.contains("--create"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/missing"), "nothing was created")
        let created = try await BrokerProcess.serve(keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--database", database, "--create"])
        created.signal(SIGKILL)
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/missing/dir/x.sqlite"))
        let defaulted = try await BrokerProcess.serve(keysDir: scratch.path + "/keys2", directory: scratch.path)
        defaulted.signal(SIGKILL)
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/data/token-broker.sqlite"), "the quick start's default store is made")
    }

    @Test("the CLI refuses to make a new store or key ring by accident, names what it used, and finds the store from a config file, a variable or an environment file")
    func cliFindsTheStore() async throws {
        let scratch = ScratchDirectory()
        let elsewhere = scratch.path + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        // From a directory without a store: refused, nothing made.
        let refused = try await BrokerProcess.run(["api-keys", "create", "--name", "n", "--scopes", "admin"], directory: elsewhere)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("no store at \(elsewhere)/data/token-broker.sqlite (database from default)") && refused.stderr.contains("--create"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("Usage:"), "no usage text: the command line was right")
        #expect(!FileManager.default.fileExists(atPath: elsewhere + "/data"))
        let keys = try await BrokerProcess.run(["keys", "generate"], directory: elsewhere)
        #expect(keys.status == 2 && keys.stderr.contains("no key ring directory at \(elsewhere)/keys"), "\(keys.stderr)")
        #expect(!FileManager.default.fileExists(atPath: elsewhere + "/keys"))

        // The daemon's store, made on purpose and named in a config file only.
        let store = "sqlite:\(scratch.path)/daemon/registry.sqlite"
        let made = try await BrokerProcess.run(
            ["api-keys", "create", "--name", "first", "--scopes", "admin", "--database", store, "--create"], directory: scratch.path)
        #expect(made.status == 0 && made.stderr.contains("store: \(store) (from --database)"), "\(made.stderr)")
        let config = scratch.path + "/token-broker.json"
        try Data("{\"database\": \"\(store)\"}".utf8).write(to: URL(fileURLWithPath: config))
        let byFlag = try await BrokerProcess.run(["api-keys", "list", "--config", config], directory: elsewhere)
        #expect(byFlag.status == 0 && byFlag.stdout.contains("\"name\":\"first\""), "\(byFlag.stderr)")
        #expect(byFlag.stderr.contains("store: \(store) (from config file \(config))"), "\(byFlag.stderr)")
        let byVariable = try await BrokerProcess.run(["api-keys", "list"], environment: ["TOKEN_BROKER_CONFIG": config], directory: elsewhere)
        #expect(byVariable.status == 0 && byVariable.stdout.contains("\"name\":\"first\""), "\(byVariable.stderr)")
        let byDatabaseVariable = try await BrokerProcess.run(
            ["api-keys", "create", "--name", "second", "--scopes", "token:mint"], environment: ["TOKEN_BROKER_DATABASE": store], directory: elsewhere)
        #expect(byDatabaseVariable.status == 0 && byDatabaseVariable.stderr.contains("(from TOKEN_BROKER_DATABASE)"), "\(byDatabaseVariable.stderr)")
        // An environment file as systemd's EnvironmentFile= reads it (quotes, comments).
        let environmentFile = scratch.path + "/token-broker.env"
        try Data("# broker settings\nTOKEN_BROKER_DATABASE=\"\(store)\"\nOTHER=1\n".utf8).write(to: URL(fileURLWithPath: environmentFile))
        let byFile = try await BrokerProcess.run(["api-keys", "list", "--env-file", environmentFile], directory: elsewhere)
        #expect(byFile.status == 0 && byFile.stdout.contains("\"name\":\"second\""), "\(byFile.stderr)")
        #expect(byFile.stderr.contains("(from TOKEN_BROKER_DATABASE in \(environmentFile))"), "\(byFile.stderr)")
        // The daemon started on that config sees the key the CLI made.
        let key = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let daemon = try await BrokerProcess.serve(keysDir: scratch.path + "/daemon/keys", directory: elsewhere, extraArguments: ["--config", config])
        defer { daemon.signal(SIGKILL) }
        #expect(try await HTTP.send(.GET, daemon.baseURL + "/v1/api-keys", key: key).status == 200)
        // keys generate names the key ring it wrote.
        let generated = try await BrokerProcess.run(["keys", "generate", "--keys-dir", scratch.path + "/daemon/keys"], directory: elsewhere)
        #expect(generated.status == 0 && generated.stderr.contains("key ring: \(scratch.path)/daemon/keys (from --keys-dir)"), "\(generated.stderr)")
    }

    @Test("token-broker health (the image's HEALTHCHECK): 0 when the broker's /healthz answers, 1 when nothing does")
    func health() async throws {
        let scratch = ScratchDirectory()
        let broker = try await BrokerProcess.serve(keysDir: scratch.path + "/keys", directory: scratch.path)
        defer { broker.signal(SIGKILL) }
        let bySettings = try await BrokerProcess.run(["health"], environment: ["TOKEN_BROKER_PORT": String(broker.port)], directory: scratch.path)
        #expect(bySettings.status == 0 && bySettings.stdout.contains("ok: http://127.0.0.1:\(broker.port)/healthz"), "\(bySettings.stderr)")
        let down = try await BrokerProcess.run(["health", "--url", "http://127.0.0.1:\(try Self.freePort())/healthz"], directory: scratch.path)
        #expect(down.status == 1 && down.stderr.contains("did not answer"), "\(down.stderr)")
        // Bad flags are a usage error (exit 2, as every command's) that names the flag, never a silent default.
        for (arguments, flag) in [(["--timeout", "0"], "--timeout"), (["--timeout", "-5"], "--timeout"), (["--timeout", "soon"], "--timeout"), (["--url", "127.0.0.1:1"], "--url")] {
            let bad = try await BrokerProcess.run(["health"] + arguments, directory: scratch.path)
            #expect(bad.status == 2 && bad.stderr.contains(flag) && !bad.stdout.contains("ok:"), "\(arguments): \(bad.status) \(bad.stderr)")
        }
    }
}
