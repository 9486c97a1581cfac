import Foundation
import JOSE

#if canImport(Glibc)
    import Glibc
#endif

/// The key ring on disk: `<kid>.pem` (PKCS#8, mode 0600) per key, and `keyring.json` naming their states.
///
/// Every change takes an exclusive lock on the directory and replaces `keyring.json` atomically
/// (write, fsync, rename), so a daemon reloading on SIGHUP never sees half a change.
public struct KeyRingDirectory: Sendable {
    /// The directory path.
    public let path: String
    /// Clock used for `created`/`activated`/`retired` stamps (injectable for tests).
    public let now: @Sendable () -> Date

    /// A key ring directory at `path`.
    public init(path: String, now: @escaping @Sendable () -> Date = { Date() }) {
        self.path = path
        self.now = now
    }

    var manifestPath: String { path + "/" + KeyRingManifest.fileName }

    func filePath(_ name: String) -> String { path + "/" + name }

    /// Creates the directory (mode 0700) if it does not exist.
    public func ensureExists() throws(KeyRingError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .directory(path: path, reason: "exists but is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .directory(path: path, reason: "cannot be created (\(error.localizedDescription))")
        }
    }

    /// Reads, checks and parses every published key into a snapshot.
    public func load() throws(KeyRingError) -> KeyRingSnapshot {
        let manifest = try readManifest()
        try checkForUnlistedFiles(manifest)
        var published = [JWSPublicKey]()
        var active: JWSPrivateKey?
        for entry in manifest.keys where entry.state.isPublished {
            let key = try readPrivateKey(entry)
            published.append(key.publicKey)
            if entry.state == .active { active = key }
        }
        guard let active else { throw .noActiveKey(path: manifestPath) }
        return KeyRingSnapshot(active: active, published: published, entries: manifest.keys, loadedAt: now())
    }

    /// The private key of a published key, e.g. to sign with a `next` key in tests and tools.
    public func privateKey(kid: String) throws(KeyRingError) -> JWSPrivateKey {
        guard let entry = try readManifest().keys.first(where: { $0.kid == kid && $0.state.isPublished }) else {
            throw .unknownKid(kid)
        }
        return try readPrivateKey(entry)
    }

    /// Metadata of every key, retired ones included.
    public func list() throws(KeyRingError) -> [KeyMetadata] {
        try readManifest().keys
    }

    /// On an empty directory, generates the first ES256 key as active. Returns it, or nil if keys exist.
    public func bootstrapIfEmpty() throws(KeyRingError) -> KeyMetadata? {
        try ensureExists()
        return try withLock { () throws(KeyRingError) -> KeyMetadata? in
            if FileManager.default.fileExists(atPath: manifestPath) { return nil }
            let pemFiles = (try? FileManager.default.contentsOfDirectory(atPath: path))?.filter { $0.hasSuffix(".pem") } ?? []
            if let first = pemFiles.sorted().first { throw .unlistedKeyFile(path: filePath(first)) }
            var manifest = KeyRingManifest(keys: [])
            let entry = try addKey(.es256, state: .active, to: &manifest)
            try writeManifest(manifest)
            return entry
        }
    }

    /// Generates a key published as `next` (or `active` when the ring has none).
    public func generate(_ algorithm: JWSAlgorithm, rsaBits: Int = 2048) throws(KeyRingError) -> KeyMetadata {
        try ensureExists()
        return try withLock { () throws(KeyRingError) -> KeyMetadata in
            var manifest = try readManifestOrEmpty()
            let hasActive = manifest.keys.contains { $0.state == .active }
            let entry = try addKey(algorithm, state: hasActive ? .next : .active, rsaBits: rsaBits, to: &manifest)
            try writeManifest(manifest)
            return entry
        }
    }

    /// Makes a new key active: the given `next` key, else the oldest `next` key, else a freshly generated one
    /// (of `algorithm`, default the current active key's). The old active key stays published.
    public func rotate(algorithm: JWSAlgorithm? = nil, promote kid: String? = nil) throws(KeyRingError) -> KeyMetadata {
        try ensureExists()
        return try withLock { () throws(KeyRingError) -> KeyMetadata in
            var manifest = try readManifestOrEmpty()
            let stamp = now()
            let newIndex: Int
            if let kid {
                guard let index = manifest.keys.firstIndex(where: { $0.kid == kid && $0.state.isPublished }) else {
                    throw .unknownKid(kid)
                }
                newIndex = index
            } else if let index = manifest.keys.firstIndex(where: { $0.state == .next && (algorithm == nil || $0.alg == algorithm) }) {
                newIndex = index
            } else {
                let alg = algorithm ?? manifest.keys.first(where: { $0.state == .active })?.alg ?? .es256
                _ = try addKey(alg, state: .next, to: &manifest)
                newIndex = manifest.keys.count - 1
            }
            _ = try readPrivateKey(manifest.keys[newIndex])
            for index in manifest.keys.indices where manifest.keys[index].state == .active && index != newIndex {
                manifest.keys[index].state = .published
            }
            manifest.keys[newIndex].state = .active
            manifest.keys[newIndex].activated = stamp
            try writeManifest(manifest)
            return manifest.keys[newIndex]
        }
    }

    /// Removes a key from the JWKS and deletes its private key file. The active key cannot be retired.
    public func retire(kid: String) throws(KeyRingError) -> KeyMetadata {
        try withLock { () throws(KeyRingError) -> KeyMetadata in
            var manifest = try readManifest()
            guard let index = manifest.keys.firstIndex(where: { $0.kid == kid }) else { throw .unknownKid(kid) }
            guard manifest.keys[index].state != .active else { throw .cannotRetireActive(kid) }
            if manifest.keys[index].state == .retired { return manifest.keys[index] }
            manifest.keys[index].state = .retired
            manifest.keys[index].retired = now()
            try writeManifest(manifest)
            let file = filePath(manifest.keys[index].file)
            if FileManager.default.fileExists(atPath: file) {
                do { try FileManager.default.removeItem(atPath: file) } catch {
                    throw .io(path: file, reason: "retired in keyring.json but could not be deleted (\(error.localizedDescription))")
                }
            }
            return manifest.keys[index]
        }
    }

    // MARK: - Reading

    func readManifestOrEmpty() throws(KeyRingError) -> KeyRingManifest {
        FileManager.default.fileExists(atPath: manifestPath) ? try readManifest() : KeyRingManifest(keys: [])
    }

    func readManifest() throws(KeyRingError) -> KeyRingManifest {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .directory(path: path, reason: "does not exist or is not a directory")
        }
        guard let data = FileManager.default.contents(atPath: manifestPath) else {
            throw .metadata(path: manifestPath, reason: "missing or unreadable; run `token-broker keys generate` or start `serve` on an empty directory")
        }
        return try KeyRingManifest.decode(data, path: manifestPath)
    }

    func checkForUnlistedFiles(_ manifest: KeyRingManifest) throws(KeyRingError) {
        let listed = Set(manifest.keys.filter { $0.state.isPublished }.map(\.file))
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for name in names.sorted() where name.hasSuffix(".pem") && !listed.contains(name) {
            throw .unlistedKeyFile(path: filePath(name))
        }
    }

    func readPrivateKey(_ entry: KeyMetadata) throws(KeyRingError) -> JWSPrivateKey {
        let file = filePath(entry.file)
        let data = try SecretFile.read(file)
        let key: JWSPrivateKey
        do {
            key = try JWSPrivateKey(pem: data, algorithm: entry.alg)
        } catch {
            throw .invalidKeyFile(path: file, reason: error.description)
        }
        guard key.kid == entry.kid else {
            throw .invalidKeyFile(path: file, reason: "its thumbprint is \(key.kid), but keyring.json lists it as \(entry.kid)")
        }
        return key
    }

    // MARK: - Writing

    func addKey(_ algorithm: JWSAlgorithm, state: KeyState, rsaBits: Int = 2048, to manifest: inout KeyRingManifest) throws(KeyRingError) -> KeyMetadata {
        let key: JWSPrivateKey
        let pem: [UInt8]
        do {
            key = try JWSPrivateKey.generate(algorithm, rsaBits: rsaBits)
            pem = try key.pkcs8PEM()
        } catch {
            throw .io(path: path, reason: "key generation failed: \(error.description)")
        }
        let stamp = now()
        let entry = KeyMetadata(
            kid: key.kid, alg: algorithm, created: stamp, state: state, file: "\(key.kid).pem",
            activated: state == .active ? stamp : nil, retired: nil)
        try writeFile(filePath(entry.file), Data(pem), mode: 0o600, exclusive: true)
        manifest.keys.append(entry)
        return entry
    }

    func writeManifest(_ manifest: KeyRingManifest) throws(KeyRingError) {
        let temporary = manifestPath + ".tmp"
        try writeFile(temporary, manifest.encoded(), mode: 0o644, exclusive: false)
        guard rename(temporary, manifestPath) == 0 else {
            throw .io(path: manifestPath, reason: "rename failed: \(String(cString: strerror(errno)))")
        }
        syncDirectory()
    }

    func writeFile(_ file: String, _ data: Data, mode: mode_t, exclusive: Bool) throws(KeyRingError) {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC)
        let fd = open(file, flags, mode)
        guard fd >= 0 else { throw .io(path: file, reason: "cannot be created: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // The umask may have widened nothing, but an existing file keeps its old mode: set it explicitly.
        guard fchmod(fd, mode) == 0 else { throw .io(path: file, reason: "chmod failed: \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(fd) == 0 else {
            throw .io(path: file, reason: "write failed: \(String(cString: strerror(errno)))")
        }
    }

    func syncDirectory() {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    func withLock<R>(_ body: () throws(KeyRingError) -> R) throws(KeyRingError) -> R {
        let lockPath = filePath(".lock")
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(path: lockPath, reason: "cannot open lock file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw .io(path: lockPath, reason: "cannot lock: \(String(cString: strerror(errno)))") }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
