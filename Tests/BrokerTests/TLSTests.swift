import AsyncHTTPClient
import Foundation
import JOSE
import NIOCore
import NIOSSL
import StoreTestSupport
import Testing

/// A self-signed certificate for 127.0.0.1 made with the openssl command line, key mode 0600.
func makeCertificate(in directory: String, name: String) throws -> (certificate: String, key: String) {
    let certificate = "\(directory)/\(name).crt"
    let key = "\(directory)/\(name).key"
    try runTool("/usr/bin/env", [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=\(name)",
        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", certificate,
    ])
    chmod(key, 0o600)
    return (certificate, key)
}

/// GET over HTTPS trusting only `certificate`; nil when the handshake fails.
func httpsGet(_ url: String, trusting certificate: String) async -> HTTP.Reply? {
    var tls = TLSConfiguration.makeClientConfiguration()
    guard let roots = try? NIOSSLCertificate.fromPEMFile(certificate) else { return nil }
    tls.trustRoots = .certificates(roots)
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    // A refused handshake makes AsyncHTTPClient retry the connection until the deadline: keep it short.
    let reply = try? await client.execute(HTTPClientRequest(url: url), timeout: .seconds(2))
    let body = try? await reply?.body.collect(upTo: 1 << 20)
    try? await client.shutdown()
    guard let reply, let body else { return nil }
    return HTTP.Reply(status: Int(reply.status.code), headers: reply.headers, body: Array(buffer: body))
}

@Suite("native HTTPS listener") struct TLSTests {
    @Test("--tls-cert/--tls-key serve HTTPS with an https issuer; SIGHUP swaps in a renewed certificate for new handshakes")
    func httpsAndReload() async throws {
        let scratch = ScratchDirectory()
        let first = try makeCertificate(in: scratch.path, name: "first")
        let live = (certificate: scratch.path + "/live.crt", key: scratch.path + "/live.key")
        try FileManager.default.copyItem(atPath: first.certificate, toPath: live.certificate)
        try FileManager.default.copyItem(atPath: first.key, toPath: live.key)
        chmod(live.key, 0o600)
        let broker = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys", directory: scratch.path,
            extraArguments: ["--tls-cert", live.certificate, "--tls-key", live.key, "--database", "sqlite:\(scratch.path)/db.sqlite"])
        defer { broker.signal(SIGKILL) }
        let base = "https://127.0.0.1:\(broker.port)"
        let discovery = try #require(await httpsGet(base + "/.well-known/openid-configuration", trusting: first.certificate))
        let document = try JSONParser().parseObject(discovery.body)
        #expect(document["issuer"] == .string(base), "the default issuer follows the scheme")
        #expect(document["jwks_uri"]?.stringValue?.hasPrefix("https://") == true)

        let second = try makeCertificate(in: scratch.path, name: "second")
        #expect(await httpsGet(base + "/healthz", trusting: second.certificate) == nil, "not trusted yet: still the first certificate")
        try FileManager.default.removeItem(atPath: live.certificate)
        try FileManager.default.removeItem(atPath: live.key)
        try FileManager.default.copyItem(atPath: second.certificate, toPath: live.certificate)
        try FileManager.default.copyItem(atPath: second.key, toPath: live.key)
        chmod(live.key, 0o600)
        broker.signal(SIGHUP)
        let deadline = ContinuousClock.now + .seconds(10)
        while !broker.log.contains("TLS certificate reloaded"), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(await httpsGet(base + "/healthz", trusting: second.certificate)?.status == 200, "new handshakes get the renewed certificate")
        #expect(await httpsGet(base + "/healthz", trusting: first.certificate) == nil)

        // A broken key on the next SIGHUP keeps the certificate in use.
        try Data("not a key".utf8).write(to: URL(fileURLWithPath: live.key))
        broker.signal(SIGHUP)
        let again = ContinuousClock.now + .seconds(10)
        while !broker.log.contains("TLS certificate reload failed"), ContinuousClock.now < again { try await Task.sleep(for: .milliseconds(20)) }
        #expect(await httpsGet(base + "/healthz", trusting: second.certificate)?.status == 200)
    }

    @Test("start-up refuses a group-readable TLS key, a key of another certificate, and half a pair")
    func refusals() async throws {
        let scratch = ScratchDirectory()
        let one = try makeCertificate(in: scratch.path, name: "one")
        let two = try makeCertificate(in: scratch.path, name: "two")
        chmod(one.key, 0o640)
        let cases: [([String], String)] = [
            (["--tls-cert", one.certificate, "--tls-key", one.key], "readable by group or others"),
            (["--tls-cert", two.certificate, "--tls-key", two.key + ".missing"], "does not exist"),
            (["--tls-cert", two.certificate], "go together"),
        ]
        for (arguments, message) in cases {
            let result = try await BrokerProcess.run(
                ["serve", "--port", "0", "--keys-dir", scratch.path + "/keys", "--database", "sqlite:\(scratch.path)/db.sqlite"] + arguments,
                directory: scratch.path)
            #expect(result.status != 0)
            #expect(result.stderr.contains(message), "\(result.stderr)")
        }
        chmod(one.key, 0o600)
        let mismatched = try await BrokerProcess.run(
            ["serve", "--port", "0", "--keys-dir", scratch.path + "/keys", "--tls-cert", one.certificate, "--tls-key", two.key], directory: scratch.path)
        #expect(mismatched.status != 0 && mismatched.stderr.contains("does not belong"), "\(mismatched.stderr)")
    }
}
