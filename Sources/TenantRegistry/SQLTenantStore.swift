import Foundation
import Logging
import ServiceLifecycle
import SQLKit

/// The tenant registry's store on SQLite or PostgreSQL. All SQL is written once with SQLKit binds;
/// every change and its audit record commit in one transaction.
public final class SQLTenantStore: Service, Sendable {
    let backend: SQLBackend
    let logger: Logger
    /// NOTIFY channel other instances LISTEN on (PostgreSQL): tenant ids, or `key:<id>` for API key changes.
    public static let tenantChannel = "token_broker_tenants"

    /// Where this store lives, safe to log.
    public let location: DatabaseLocation
    /// Seals tenant client secrets on their way in and opens them on their way out.
    public let sealer: SecretSealer

    private init(backend: SQLBackend, location: DatabaseLocation, sealer: SecretSealer, logger: Logger) {
        self.backend = backend
        self.location = location
        self.sealer = sealer
        self.logger = logger
    }

    /// Opens the database (creating an SQLite file and its directory when needed); a PostgreSQL pool starts
    /// running at once. Call `close()` when done. `sealer` seals and opens tenant client secrets; one without
    /// keys (commands that never touch tenants) makes every write or read of a secret fail.
    public static func open(_ location: DatabaseLocation, sealer: SecretSealer, logger: Logger) async throws(StoreError) -> SQLTenantStore {
        do {
            return SQLTenantStore(
                backend: try await SQLBackend.open(location, logger: logger), location: location, sealer: sealer, logger: logger)
        } catch {
            throw .unavailable("cannot open \(location): \(error)")
        }
    }

    /// On PostgreSQL, connects once outside the pool and throws `.unavailable` with a sentence naming what is wrong
    /// (refused, unresolved, TLS, password, role, unknown database): for start-up, where the pool alone would only
    /// say that no answer came in time. Nothing to check on SQLite.
    public func checkConnection() async throws(StoreError) {
        guard case .postgres(let host, let port, let username, let password, let database, let tls) = location else { return }
        try await PostgresProbe.check(host: host, port: port, username: username, password: password, database: database, tls: tls, logger: logger)
    }

    /// Whether other instances may share this store (and changes arrive by NOTIFY).
    public var isShared: Bool { backend.isPostgres }

    /// Waits for graceful shutdown, then closes the store (so it closes after the services that use it).
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Closes the connection (SQLite) or stops the pool (PostgreSQL).
    public func close() async {
        await backend.close()
    }

    /// Succeeds when the database answers a trivial query.
    public func ping() async throws(StoreError) {
        do {
            try await backend.read { db in try await db.raw("SELECT 1").run() }
        } catch {
            throw backend.translate(error)
        }
    }

    /// Calls `onChange` with the tenant id of every change another instance commits (PostgreSQL), until cancelled.
    public func listenForChanges(_ onChange: @Sendable @escaping (String) async -> Void) async throws {
        try await backend.listen(channel: Self.tenantChannel, onNotification: onChange)
    }
}
