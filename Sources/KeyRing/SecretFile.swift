#if canImport(Glibc)
    import Glibc
#endif

/// Files that hold private keys: opened without following a symlink (`O_NOFOLLOW`), then checked on the open
/// descriptor (`fstat`): a regular file, readable by its owner only. Checking the path first and opening it
/// after would let a file swapped in between (a symlink to another file) be read.
public enum SecretFile {
    /// Files larger than this are not key files.
    static let maximumSize = 1 << 20

    /// The whole file; throws when it is missing, a symlink, not a regular file, group- or world-accessible, or too big.
    public static func read(_ path: String) throws(KeyRingError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = errno == ELOOP ? "is a symbolic link (key files must be regular files)" : "missing or unreadable"
            throw .invalidKeyFile(path: path, reason: reason)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { throw .invalidKeyFile(path: path, reason: "not a regular file") }
        if info.st_mode & 0o077 != 0 {
            throw .insecurePermissions(path: path, mode: String(info.st_mode & 0o777, radix: 8))
        }
        guard Int(info.st_size) <= maximumSize else { throw .invalidKeyFile(path: path, reason: "too large for a key file") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, $0.count - done) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw .invalidKeyFile(path: path, reason: "cannot be read") }
            done += count
        }
        return bytes
    }

    /// Writes a new file with mode 0600 (never replacing one: `O_EXCL`, no symlink followed) and syncs it.
    public static func create(_ path: String, _ bytes: [UInt8]) throws(KeyRingError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(path: path, reason: "cannot be created: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw .io(path: path, reason: "chmod failed: \(String(cString: strerror(errno)))") }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else { throw .io(path: path, reason: "write failed: \(String(cString: strerror(errno)))") }
    }
}
