import Foundation

/// Where the store lives: `sqlite:PATH` (embedded, one instance) or `postgres://user:pass@host:port/db` (shared),
/// the latter with libpq's `sslmode` (and `sslrootcert`) query parameters.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(host: String, port: Int, username: String, password: String?, database: String, tls: PostgresTLS = .disable)

    /// TLS to PostgreSQL, as libpq's `sslmode` names it. `prefer` and `allow` are not offered: a connection that
    /// silently falls back to plaintext is what an attacker on the path wants.
    public enum PostgresTLS: Sendable, Equatable {
        /// `sslmode=disable` (the default, as for a database on loopback or a private network).
        case disable
        /// `sslmode=require`: encrypted, the server's certificate not checked (protects against passive listeners only).
        case require
        /// `sslmode=verify-ca`: the certificate must chain to `rootCertificate` (or the system's roots); any host name.
        case verifyCA(rootCertificate: String?)
        /// `sslmode=verify-full`: as verify-ca, and the certificate must name the host.
        case verifyFull(rootCertificate: String?)
    }

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
        var query: [String: String] = [:]
        for item in url.queryItems ?? [] {
            guard ["sslmode", "sslrootcert"].contains(item.name), query[item.name] == nil, let value = item.value, !value.isEmpty else {
                throw FieldError("database", "postgres URL parameters: sslmode=disable|require|verify-ca|verify-full and sslrootcert=PATH, each once")
            }
            query[item.name] = value
        }
        let root = query["sslrootcert"]
        let tls: PostgresTLS
        switch query["sslmode"] ?? "disable" {
        case "disable": tls = .disable
        case "require": tls = .require
        case "verify-ca": tls = .verifyCA(rootCertificate: root)
        case "verify-full": tls = .verifyFull(rootCertificate: root)
        default:
            throw FieldError("database", "sslmode must be disable, require, verify-ca or verify-full (prefer and allow could fall back to plaintext)")
        }
        if root != nil, case .disable = tls { throw FieldError("database", "sslrootcert needs sslmode=verify-ca or verify-full") }
        if root != nil, case .require = tls { throw FieldError("database", "sslrootcert needs sslmode=verify-ca or verify-full") }
        return .postgres(host: host, port: url.port ?? 5432, username: user, password: url.password, database: database, tls: tls)
    }

    /// A form safe to log: never the password.
    public var description: String {
        switch self {
        case .sqlite(let path): return "sqlite:\(path)"
        case .postgres(let host, let port, let username, _, let database, let tls):
            let mode: String
            switch tls {
            case .disable: mode = ""
            case .require: mode = "?sslmode=require"
            case .verifyCA: mode = "?sslmode=verify-ca"
            case .verifyFull: mode = "?sslmode=verify-full"
            }
            return "postgres://\(username)@\(host):\(port)/\(database)\(mode)"
        }
    }
}
