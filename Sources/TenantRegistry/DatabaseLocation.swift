import Foundation

/// Where the store lives: `sqlite:PATH` (embedded, one instance) or `postgres://user:pass@host:port/db` (shared).
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(host: String, port: Int, username: String, password: String?, database: String)

    /// Parses the `--database` setting.
    public static func parse(_ text: String) throws(FieldError) -> DatabaseLocation {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw FieldError("database", "sqlite: needs a file path, e.g. sqlite:data/token-broker.sqlite") }
            return .sqlite(path: path)
        }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"), let url = URLComponents(string: text),
            let host = url.host, !host.isEmpty, let user = url.user, !user.isEmpty
        else {
            throw FieldError("database", "must be sqlite:PATH or postgres://user:password@host:port/database")
        }
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { throw FieldError("database", "postgres URL needs a database name") }
        return .postgres(host: host, port: url.port ?? 5432, username: user, password: url.password, database: database)
    }

    /// A form safe to log: never the password.
    public var description: String {
        switch self {
        case .sqlite(let path): return "sqlite:\(path)"
        case .postgres(let host, let port, let username, _, let database): return "postgres://\(username)@\(host):\(port)/\(database)"
        }
    }
}
