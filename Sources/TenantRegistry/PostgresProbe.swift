import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

#if canImport(Glibc)
    import Glibc
#endif

/// One connection to PostgreSQL outside the pool, made at start-up so that a failure is named: the pool itself
/// only retries, and its caller sees "no answer within 5 s" whatever the reason was. Refused connections, names that
/// do not resolve, TLS failures, wrong passwords, rejected roles and unknown databases each get their sentence,
/// saying what to check. Never includes the password.
enum PostgresProbe {
    static func check(
        host: String, port: Int, username: String, password: String?, database: String?, tls mode: DatabaseLocation.PostgresTLS, logger: Logger
    ) async throws(StoreError) {
        let target = "\(host):\(port)"
        var configuration: PostgresConnection.Configuration
        do {
            configuration = PostgresConnection.Configuration(
                host: host, port: port, username: username, password: password, database: database, tls: try tls(mode))
        } catch {
            throw .unavailable("PostgreSQL at \(target): the TLS settings cannot be used (\(error)); check sslrootcert in --database")
        }
        if case .verifyFull = mode, host.utf8.allSatisfy({ $0 != 0x3A }), Int(host.split(separator: ".").last ?? "") == nil {
            configuration.options.tlsServerName = host
        }
        configuration.options.connectTimeout = .seconds(5)
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: 0, logger: logger
            ).get()
        } catch {
            throw .unavailable(explain(error, target: target, username: username, database: database ?? username, mode: mode))
        }
        try? await connection.close()
    }

    static func tls(_ mode: DatabaseLocation.PostgresTLS) throws -> PostgresConnection.Configuration.TLS {
        guard let configuration = SQLBackend.tlsConfiguration(mode) else { return .disable }
        return .require(try NIOSSLContext(configuration: configuration))
    }

    /// The operator's sentence for a failed connection attempt.
    static func explain(_ error: any Error, target: String, username: String, database: String, mode: DatabaseLocation.PostgresTLS) -> String {
        let prefix = "PostgreSQL at \(target)"
        guard let psql = error as? PSQLError else { return describeTransport(error, prefix: prefix, mode: mode) ?? "\(prefix): \(error)" }
        switch psql.code {
        case .server:
            let state = psql.serverInfo?[.sqlState] ?? ""
            let message = psql.serverInfo?[.message] ?? ""
            switch state {
            case "28P01":
                return "\(prefix) refused the password of user \(username): check the user and password in --database (TOKEN_BROKER_DATABASE)"
            case "28000":
                return "\(prefix) does not let user \(username) connect to database \(database) (\(message)): check the role and pg_hba.conf"
            case "3D000":
                return "\(prefix) has no database \(database): create it (createdb -O \(username) \(database)) or fix the name in --database"
            case "53300":
                return "\(prefix) has no free connection slot (too many connections): raise max_connections or lower the instances' pools"
            case "57P03":
                return "\(prefix) is starting up or shutting down: try again when it accepts connections"
            default:
                return "\(prefix) refused the connection: \(message) (SQLSTATE \(state))"
            }
        case .sslUnsupported:
            return "\(prefix) does not offer TLS, and --database asks for it (sslmode); enable ssl on the server or use sslmode=disable on a trusted network"
        case .authMechanismRequiresPassword:
            return "\(prefix) asks user \(username) for a password and --database gives none: add it (postgres://user:password@host/db)"
        case .unsupportedAuthMechanism:
            return "\(prefix) asks for an authentication method this broker does not speak: use scram-sha-256 or md5 in pg_hba.conf"
        case .saslError:
            return "\(prefix) rejected the password exchange (SCRAM) for user \(username): check the password in --database"
        default:
            if let underlying = psql.underlying, let transport = describeTransport(underlying, prefix: prefix, mode: mode) { return transport }
            return "\(prefix): \(psql.code)" + (psql.underlying.map { " (\($0))" } ?? "")
        }
    }

    /// Refused, unreachable, unresolved, timed out, or TLS: what the network said.
    static func describeTransport(_ error: any Error, prefix: String, mode: DatabaseLocation.PostgresTLS) -> String? {
        if let ssl = error as? NIOSSLError {
            return "\(prefix): the TLS handshake failed (\(ssl)): check sslmode and sslrootcert in --database against the server's certificate"
        }
        if error is BoringSSLError || String(describing: type(of: error)).contains("SSL") {
            return "\(prefix): the TLS handshake failed (\(error)): check sslmode and sslrootcert in --database against the server's certificate"
        }
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED: return "\(prefix) refused the connection: is PostgreSQL running, and listening on that address and port?"
            case EHOSTUNREACH, ENETUNREACH: return "\(prefix) cannot be reached (no route): check the host in --database"
            case ETIMEDOUT: return "\(prefix) did not answer: check the host and port in --database, and firewalls between"
            default: return nil
            }
        }
        if let connect = error as? NIOConnectionError {
            if connect.dnsAAAAError != nil || connect.dnsAError != nil, connect.connectionErrors.isEmpty {
                return "\(prefix): the host name does not resolve; check the host in --database"
            }
            if let first = connect.connectionErrors.first?.error { return describeTransport(first, prefix: prefix, mode: mode) }
        }
        if error is ChannelError, case .connectTimeout = error as! ChannelError {
            return "\(prefix) did not answer within 5 s: check the host and port in --database, and firewalls between"
        }
        return nil
    }
}
