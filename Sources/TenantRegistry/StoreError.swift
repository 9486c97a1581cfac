/// Why a store operation failed, in terms a caller can act on.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A tenant with this id (or domain) exists already.
    case conflict(String)
    case notFound
    /// No such subtenant of an existing tenant.
    case subtenantNotFound
    /// The `If-Match` version is not the current one.
    case versionMismatch
    /// The database cannot be reached or failed; nothing was written.
    case unavailable(String)
    /// A stored row cannot be read back.
    case corrupt(String)
    /// The change would leave no active API key with the `admin` scope.
    case lastAdminKey
    /// Only a deleted tenant can be purged.
    case notDeleted

    public var description: String {
        switch self {
        case .conflict(let what): return "conflict: \(what)"
        case .notFound: return "not found"
        case .subtenantNotFound: return "subtenant not found"
        case .versionMismatch: return "version mismatch"
        case .unavailable(let why): return "store unavailable: \(why)"
        case .corrupt(let why): return "corrupt row: \(why)"
        case .lastAdminKey: return "the last active admin API key"
        case .notDeleted: return "the tenant is not deleted"
        }
    }
}
