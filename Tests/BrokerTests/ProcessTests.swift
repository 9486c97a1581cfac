import AsyncHTTPClient
import Foundation
import JOSE
import KeyRing
import StoreTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("the real binary", .serialized) struct ProcessTests {
    @Test("serve answers health, readiness, discovery and JWKS over loopback on a random port")
    func serves() async throws {
        let scratch = ScratchDirectory()
        let broker = try await BrokerProcess.serve(keysDir: scratch.path + "/keys", directory: scratch.path)
        defer { broker.signal(SIGKILL) }
        #expect(try await HTTP.get(broker.baseURL + "/healthz").text == #"{"status":"ok"}"#)
        #expect(try await HTTP.get(broker.baseURL + "/readyz").status == 200)
        let discovery = try JSONParser().parseObject(try await HTTP.get(broker.baseURL + "/.well-known/openid-configuration").body)
        #expect(discovery["issuer"] == .string(broker.baseURL))
        #expect(discovery["jwks_uri"] == .string(broker.baseURL + "/.well-known/jwks.json"))
        let jwks = try JWKSet(json: try await HTTP.get(broker.baseURL + "/.well-known/jwks.json").body)
        let snapshot = try KeyRingDirectory(path: scratch.path + "/keys").load()
        #expect(Set(jwks.keys.keys) == [snapshot.active.kid])
        #expect(broker.log.contains("key ring was empty: generated an ES256 signing key"))
    }

    @Test("SIGTERM closes the listener and idle connections, and exits 0")
    func sigterm() async throws {
        let scratch = ScratchDirectory()
        let broker = try await BrokerProcess.serve(keysDir: scratch.path + "/keys", directory: scratch.path)
        let idle = try RawConnection(port: broker.port)
        idle.send("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        let answered = try await offPool { idle.readOnce() }
        #expect(answered.hasPrefix("HTTP/1.1 200"), "\(answered.prefix(60))")
        broker.signal(SIGTERM)
        let (rest, closed) = try await offPool { idle.readUntilClosed() }
        #expect(closed, "the idle keep-alive connection was not closed on SIGTERM")
        #expect(rest.isEmpty)
        #expect(try await broker.waitForExit() == 0)
        #expect(!RawConnection.accepts(port: broker.port))
        #expect(broker.log.contains("token-broker stopped"))
    }

    @Test("a second SIGTERM while a request holds the drain exits at once, not after the grace period")
    func secondSigterm() async throws {
        let scratch = ScratchDirectory()
        let broker = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys", directory: scratch.path,
            extraArguments: ["--shutdown-grace-period", "60", "--database", "sqlite:\(scratch.path)/db.sqlite"])
        // A login whose body never finishes keeps the drain waiting.
        let slow = try RawConnection(port: broker.port)
        slow.send("POST /v1/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"user")
        // The request must be in the broker's hands (accepted and read), not in a socket buffer, when SIGTERM comes.
        #expect(try await eventually { slow.serverHasReadEverything(port: broker.port) }, "the broker never read the request's head")
        broker.signal(SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while RawConnection.accepts(port: broker.port), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!RawConnection.accepts(port: broker.port), "the listener closes on the first SIGTERM")
        // Not a wait for something to happen: the broker must NOT exit in this time (the drain holds for the request).
        try await Task.sleep(for: .milliseconds(500))
        #expect(broker.process.isRunning, "the first SIGTERM waits for the in-flight request")
        let second = ContinuousClock.now
        broker.signal(SIGTERM)
        #expect(try await broker.waitForExit(timeout: .seconds(10)) == 143)
        #expect(ContinuousClock.now - second < .seconds(5), "exited at once, not after the 60 s grace period")
        #expect(broker.log.contains("exiting now"))
    }

    @Test("SIGHUP reloads rotated keys while a client loops on the JWKS with zero failed requests")
    func reloadUnderLoad() async throws {
        let scratch = ScratchDirectory()
        let keysDir = scratch.path + "/keys"
        let broker = try await BrokerProcess.serve(keysDir: keysDir, directory: scratch.path)
        defer { broker.signal(SIGKILL) }
        let directory = KeyRingDirectory(path: keysDir)
        let firstKid = try directory.load().active.kid
        let stop = Atomic<Bool>(false)
        let url = broker.baseURL + "/.well-known/jwks.json"

        let loop = Task { () -> (requests: Int, failures: [String]) in
            var requests = 0
            var failures = [String]()
            let started = ContinuousClock.now
            while !stop.load(ordering: .relaxed), requests < 20_000, ContinuousClock.now - started < .seconds(60) {
                requests += 1
                do {
                    let reply = try await HTTP.get(url)
                    if reply.status != 200 { failures.append("status \(reply.status)") } else { _ = try JWKSet(json: reply.body) }
                } catch {
                    failures.append(String(describing: error))
                }
            }
            return (requests, failures)
        }

        var kids = [firstKid]
        for algorithm in [JWSAlgorithm.es256, .rs256, .edDSA, .ps256, .es256] {
            let rotated = try directory.rotate(algorithm: algorithm)
            kids.append(rotated.kid)
            broker.signal(SIGHUP)
            let deadline = ContinuousClock.now + .seconds(10)
            var seen = false
            while !seen, ContinuousClock.now < deadline {
                let discovery = try JSONParser().parseObject(try await HTTP.get(url).body)
                seen = discovery["keys"]?.arrayValue?.contains { $0.objectValue?["kid"] == .string(rotated.kid) } ?? false
                if !seen { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(seen, "kid \(rotated.kid) never appeared after SIGHUP")
        }
        stop.store(true, ordering: .relaxed)
        let result = await loop.value
        #expect(result.requests > 10)
        #expect(result.failures.isEmpty, "\(result.failures.prefix(5))")
        let final = try JWKSet(json: try await HTTP.get(url).body)
        #expect(Set(final.keys.keys) == Set(kids), "every rotated-out key stays published")
    }

    @Test("a SIGHUP that finds a broken key ring keeps serving the old keys and counts the failure")
    func failedReload() async throws {
        let scratch = ScratchDirectory()
        let keysDir = scratch.path + "/keys"
        let broker = try await BrokerProcess.serve(keysDir: keysDir, directory: scratch.path)
        defer { broker.signal(SIGKILL) }
        let before = try await HTTP.get(broker.baseURL + "/.well-known/jwks.json")
        let entry = try KeyRingDirectory(path: keysDir).list()[0]
        chmod(keysDir + "/" + entry.file, 0o644)
        broker.signal(SIGHUP)
        let deadline = ContinuousClock.now + .seconds(10)
        var metrics = ""
        while !metrics.contains(#"token_broker_key_ring_reloads_total{result="failure"} 1"#), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            metrics = try await HTTP.get(broker.baseURL + "/metrics").text
        }
        #expect(metrics.contains(#"token_broker_key_ring_reloads_total{result="failure"} 1"#))
        let after = try await HTTP.get(broker.baseURL + "/.well-known/jwks.json")
        #expect(after.status == 200)
        #expect(after.body == before.body)
        #expect(broker.log.contains("key ring reload failed; keeping the previous ring"))
        #expect(broker.log.contains("chmod 600"))
    }

    @Test("start-up refuses a group-readable private key, naming the file and the fix")
    func refusesInsecureKey() async throws {
        let scratch = ScratchDirectory()
        let keysDir = scratch.path + "/keys"
        let entry = try #require(try KeyRingDirectory(path: keysDir).bootstrapIfEmpty())
        chmod(keysDir + "/" + entry.file, 0o640)
        let result = try await BrokerProcess.run(["serve", "--port", "0", "--keys-dir", keysDir], directory: scratch.path)
        #expect(result.status == 1)
        #expect(result.stderr.contains(keysDir + "/" + entry.file))
        #expect(result.stderr.contains("chmod 600"))
    }

    @Test("start-up refuses a corrupt key file, naming it")
    func refusesCorruptKey() async throws {
        let scratch = ScratchDirectory()
        let keysDir = scratch.path + "/keys"
        let entry = try #require(try KeyRingDirectory(path: keysDir).bootstrapIfEmpty())
        let file = keysDir + "/" + entry.file
        try Data("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".utf8).write(to: URL(fileURLWithPath: file))
        chmod(file, 0o600)
        let result = try await BrokerProcess.run(["serve", "--port", "0", "--keys-dir", keysDir], directory: scratch.path)
        #expect(result.status == 1)
        #expect(result.stderr.contains(file))
        #expect(result.stderr.contains("not a valid key"))
    }

    @Test("invalid configuration is a clear start-up error", arguments: [
        (["--port", "99999"], [String: String](), "--port"),
        (["--port", "http"], [:], "--port"),
        (["--leeway", "301"], [:], "--leeway"),
        (["--log-level", "loud"], [:], "--log-level"),
        (["--issuer", "ftp://x"], [:], "--issuer"),
        (["--keys-dir", "/dev/null/keys"], [:], "/dev/null/keys"),
        ([], ["TOKEN_BROKER_PROT": "8080"], "TOKEN_BROKER_PROT"),
        ([], ["TOKEN_BROKER_PORT": "-1"], "TOKEN_BROKER_PORT"),
        (["--config", "missing.json"], [:], "missing.json"),
    ])
    func badConfiguration(arguments: [String], environment: [String: String], mentions: String) async throws {
        let scratch = ScratchDirectory()
        let result = try await BrokerProcess.run(
            ["serve", "--keys-dir", scratch.path + "/keys"] + arguments, environment: environment, directory: scratch.path)
        #expect(result.status != 0)
        #expect(result.stderr.contains(mentions), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"))
    }

    @Test("a config file with an unknown setting is refused; a valid one is applied below flags and environment")
    func configFile() async throws {
        let scratch = ScratchDirectory()
        let bad = scratch.path + "/bad.json"
        try Data(#"{"port": 8080, "prot": 1}"#.utf8).write(to: URL(fileURLWithPath: bad))
        let refused = try await BrokerProcess.run(["serve", "--config", bad], directory: scratch.path)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("unknown setting 'prot'"))

        let good = scratch.path + "/good.json"
        try Data(#"{"issuer": "https://from-file.example", "jwksMaxAge": 42, "port": 1}"#.utf8).write(to: URL(fileURLWithPath: good))
        let broker = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--config", good],
            environment: ["TOKEN_BROKER_ISSUER": "https://from-env.example"])
        defer { broker.signal(SIGKILL) }
        let discovery = try JSONParser().parseObject(try await HTTP.get(broker.baseURL + "/.well-known/openid-configuration").body)
        #expect(discovery["issuer"] == .string("https://from-env.example"))
        let jwks = try await HTTP.get(broker.baseURL + "/.well-known/jwks.json")
        #expect(jwks.headers.first(name: "Cache-Control") == "public, max-age=42")
    }
}
