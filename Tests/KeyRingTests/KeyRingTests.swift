import Foundation
import JOSE
import KeyRing
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh temporary directory per test, removed afterwards.
struct TemporaryDirectory: ~Copyable {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "keyring-test-" + UUID().uuidString
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite("key ring") struct KeyRingTests {
    let logger = Logger(label: "test")

    @Test("first start on an empty directory generates one active ES256 key, written 0600")
    func bootstrap() throws {
        let dir = TemporaryDirectory()
        let ring = try KeyRing(directory: KeyRingDirectory(path: dir.path), bootstrap: true, logger: logger)
        let snapshot = ring.current
        #expect(snapshot.active.algorithm == .es256)
        #expect(snapshot.entries.count == 1)
        #expect(snapshot.entries[0].state == .active)
        var info = stat()
        #expect(stat(dir.path + "/" + snapshot.entries[0].file, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(stat(dir.path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        // A second start finds the same key rather than generating another.
        let again = try KeyRing(directory: KeyRingDirectory(path: dir.path), bootstrap: true, logger: logger)
        #expect(again.current.active.kid == snapshot.active.kid)
    }

    @Test("without bootstrap an empty directory is an error that says what to run")
    func noBootstrap() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        #expect(throws: KeyRingError.self) { try KeyRing(directory: KeyRingDirectory(path: dir.path), bootstrap: false, logger: logger) }
    }

    @Test("rotation keeps the old kid published; retire removes it and deletes its file")
    func rotateAndRetire() throws {
        let dir = TemporaryDirectory()
        let directory = KeyRingDirectory(path: dir.path)
        let ring = try KeyRing(directory: directory, bootstrap: true, logger: logger)
        let first = ring.current.active.kid
        let token = try JWS.sign(claims: ["exp": .int(2_000_000_000)], key: ring.current.active)

        let second = try directory.rotate()
        #expect(second.state == .active)
        _ = try ring.reload(logger: logger).get()
        #expect(ring.current.active.kid == second.kid)
        #expect(ring.current.key(forKid: first) != nil)
        _ = try JWS.verify(token) { ring.current.key(forKid: $0) }
        #expect(try directory.list().first { $0.kid == first }?.state == .published)

        #expect(throws: KeyRingError.cannotRetireActive(second.kid)) { try directory.retire(kid: second.kid) }
        _ = try directory.retire(kid: first)
        _ = try ring.reload(logger: logger).get()
        #expect(ring.current.key(forKid: first) == nil)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/\(first).pem"))
        #expect(throws: JOSEError.unknownKeyID) { try JWS.verify(token) { ring.current.key(forKid: $0) } }
        #expect(try directory.list().first { $0.kid == first }?.state == .retired)
        #expect(throws: KeyRingError.unknownKid("nope")) { try directory.retire(kid: "nope") }
    }

    @Test("generate publishes a next key that rotate then promotes", arguments: [JWSAlgorithm.rs256, .ps256, .edDSA])
    func generateThenPromote(algorithm: JWSAlgorithm) throws {
        let dir = TemporaryDirectory()
        let directory = KeyRingDirectory(path: dir.path)
        let ring = try KeyRing(directory: directory, bootstrap: true, logger: logger)
        let next = try directory.generate(algorithm)
        #expect(next.state == .next)
        _ = try ring.reload(logger: logger).get()
        #expect(ring.current.active.algorithm == .es256)
        #expect(ring.current.key(forKid: next.kid)?.algorithm == algorithm)
        let jwks = try JWKSet(json: ring.current.jwks)
        #expect(jwks.keys.count == 2)
        let promoted = try directory.rotate()
        #expect(promoted.kid == next.kid)
        _ = try ring.reload(logger: logger).get()
        #expect(ring.current.active.kid == next.kid)
        #expect(ring.current.active.algorithm == algorithm)
    }

    @Test("a private key readable by group or others stops loading, naming the file and the fix", arguments: [0o640, 0o604, 0o644, 0o660])
    func permissions(mode: Int) throws {
        let dir = TemporaryDirectory()
        let directory = KeyRingDirectory(path: dir.path)
        let entry = try #require(try directory.bootstrapIfEmpty())
        let file = dir.path + "/" + entry.file
        chmod(file, mode_t(mode))
        do {
            _ = try directory.load()
            Issue.record("loaded an insecure key")
        } catch {
            #expect(error == .insecurePermissions(path: file, mode: String(mode, radix: 8)))
            #expect(error.description.contains(file))
            #expect(error.description.contains("chmod 600"))
        }
    }

    @Test("a corrupt key file, a key that does not match its kid, or a stray PEM stops loading")
    func corruptFiles() throws {
        let dir = TemporaryDirectory()
        let directory = KeyRingDirectory(path: dir.path)
        let entry = try #require(try directory.bootstrapIfEmpty())
        let file = dir.path + "/" + entry.file
        let original = try Data(contentsOf: URL(fileURLWithPath: file))

        try Data("-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n".utf8).write(to: URL(fileURLWithPath: file))
        chmod(file, 0o600)
        #expect(throws: KeyRingError.self) { try directory.load() }
        do { _ = try directory.load() } catch { #expect(error.description.contains(file)) }

        try JWSPrivateKey.generate(.es256).pkcs8PEM().withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: file)) }
        chmod(file, 0o600)
        do {
            _ = try directory.load()
            Issue.record("loaded a key under another key's kid")
        } catch { #expect(error.description.contains("thumbprint")) }

        try original.write(to: URL(fileURLWithPath: file))
        chmod(file, 0o600)
        _ = try directory.load()
        let stray = dir.path + "/stray.pem"
        try original.write(to: URL(fileURLWithPath: stray))
        chmod(stray, 0o600)
        #expect(throws: KeyRingError.unlistedKeyFile(path: stray)) { try directory.load() }
    }

    @Test("a broken keyring.json is refused with its path")
    func brokenManifest() throws {
        let dir = TemporaryDirectory()
        let directory = KeyRingDirectory(path: dir.path)
        _ = try directory.bootstrapIfEmpty()
        try Data("{\"version\":1,\"keys\":[".utf8).write(to: URL(fileURLWithPath: dir.path + "/keyring.json"))
        do {
            _ = try directory.load()
            Issue.record("loaded a broken manifest")
        } catch { #expect(error.description.contains("keyring.json")) }
    }

    @Test("a failed reload keeps the previous ring in place")
    func failedReloadKeepsRing() throws {
        let dir = TemporaryDirectory()
        let directory = KeyRingDirectory(path: dir.path)
        let ring = try KeyRing(directory: directory, bootstrap: true, logger: logger)
        let before = ring.current
        chmod(dir.path + "/" + before.entries[0].file, 0o644)
        let result = ring.reload(logger: logger)
        #expect(throws: KeyRingError.self) { try result.get() }
        #expect(ring.current === before)
    }

    @Test("the JWKS lists every published key with kid, kty, alg and use, and no private parts")
    func jwksContents() throws {
        let dir = TemporaryDirectory()
        let directory = KeyRingDirectory(path: dir.path)
        _ = try directory.bootstrapIfEmpty()
        _ = try directory.generate(.rs256)
        _ = try directory.generate(.edDSA)
        let snapshot = try directory.load()
        let document = try JSONParser().parseObject(snapshot.jwks)
        let keys = try #require(document["keys"]?.arrayValue)
        #expect(keys.count == 3)
        for key in keys {
            let object = try #require(key.objectValue)
            #expect(object["use"] == .string("sig"))
            #expect(object["kid"]?.stringValue != nil)
            #expect(object["alg"]?.stringValue != nil)
            #expect(object["d"] == nil && object["p"] == nil)
            let jwk = try JWK(json: object)
            #expect(jwk.kid == jwk.thumbprint())
        }
        #expect(snapshot.jwksETag.hasPrefix("\"") && snapshot.jwksETag.count > 10)
        #expect(snapshot.publishedAlgorithms == ["ES256", "EdDSA", "RS256"])
    }
}
