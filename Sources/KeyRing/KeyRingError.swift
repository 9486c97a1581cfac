/// Why a key ring could not be loaded or changed. Every case names the file and, where there is one, the fix.
public enum KeyRingError: Error, Equatable, Sendable, CustomStringConvertible {
    case directory(path: String, reason: String)
    case insecurePermissions(path: String, mode: String)
    case invalidKeyFile(path: String, reason: String)
    case metadata(path: String, reason: String)
    case unlistedKeyFile(path: String)
    case noActiveKey(path: String)
    case unknownKid(String)
    case cannotRetireActive(String)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .directory(let path, let reason):
            return "key directory \(path): \(reason)"
        case .insecurePermissions(let path, let mode):
            return "\(path): private key is readable by group or others (mode \(mode)); fix with: chmod 600 \(path)"
        case .invalidKeyFile(let path, let reason):
            return "\(path): not a valid key: \(reason); restore it from backup or retire its kid"
        case .metadata(let path, let reason):
            return "\(path): \(reason)"
        case .unlistedKeyFile(let path):
            return "\(path): key file is not listed in keyring.json; remove it or restore keyring.json"
        case .noActiveKey(let path):
            return "\(path): the key ring has no active key; run `token-broker keys rotate`"
        case .unknownKid(let kid):
            return "no key with kid \(kid) in the ring"
        case .cannotRetireActive(let kid):
            return "\(kid) is the active signing key; rotate to a new key before retiring it"
        case .io(let path, let reason):
            return "\(path): \(reason)"
        }
    }
}
