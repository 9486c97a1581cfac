import Foundation
import Synchronization
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit
import SQLiteKit
import SQLiteNIO

/// The two databases behind one interface: every query is SQLKit SQL written once; only transaction
/// control, locking and the few DDL differences depend on the backend.
///
/// Statements are never logged (`queryLogLevel: nil`): SQLKit logs each statement with its bound values at
/// debug, and the values include API key hashes and sealed secrets. Driver errors are logged by `translate`,
/// without values.
final class SQLBackend: Sendable {
    enum Kind: Sendable {
        case sqlite(SQLiteConnection, AsyncMutex)
        case postgres(PostgresClient)
    }

    let kind: Kind
    let logger: Logger
    /// The PostgreSQL pool's run loop, started at open and cancelled by `close()`.
    private let poolTask: Task<Void, Never>?
    /// Set by the first close: sqlite-nio's close is not safe to repeat (it dereferences the freed handle).
    private let closed = Atomic<Bool>(false)

    var isPostgres: Bool {
        if case .postgres = kind { return true }
        return false
    }

    private init(kind: Kind, logger: Logger) {
        self.kind = kind
        self.logger = logger
        if case .postgres(let client) = kind {
            poolTask = Task { await client.run() }
        } else {
            poolTask = nil
        }
    }

    deinit {
        // An SQLite connection must be closed before it is freed; the close future keeps it alive until done.
        if case .sqlite(let connection, _) = kind, closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
            _ = connection.close()
        }
        poolTask?.cancel()
    }

    /// Opens the database. SQLite gets WAL and `synchronous=FULL`, so a committed write survives power loss.
    static func open(_ location: DatabaseLocation, logger: Logger) async throws -> SQLBackend {
        switch location {
        case .sqlite(let path):
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger).get()
            let database = connection.sql(queryLogLevel: nil)
            // secure_delete: freed space is zeroed, so a purged tenant's secret and logo do not linger in free pages.
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=5000", "PRAGMA secure_delete=ON"] {
                try await database.raw(SQLQueryString(pragma)).run()
            }
            chmod(path, 0o600)
            return SQLBackend(kind: .sqlite(connection, AsyncMutex()), logger: logger)
        case .postgres(let host, let port, let username, let password, let database, let tls):
            var configuration = PostgresClient.Configuration(
                host: host, port: port, username: username, password: password, database: database, tls: Self.tls(tls))
            // verify-full checks the name the URL gives, as libpq does: the pool would otherwise connect by the
            // resolved address and check the certificate against that address only. An IP literal is checked as
            // an IP address (SNI cannot carry one).
            if case .verifyFull = tls, host.utf8.allSatisfy({ $0 != 0x3A }), Int(host.split(separator: ".").last ?? "") == nil {
                configuration.options.tlsServerName = host
            }
            configuration.options.connectTimeout = .seconds(5)
            configuration.options.maximumConnections = 20
            return SQLBackend(kind: .postgres(PostgresClient(configuration: configuration, backgroundLogger: logger)), logger: logger)
        }
    }

    /// postgres-nio's TLS setting for an `sslmode`: verify-ca and verify-full check the chain against `sslrootcert`
    /// (or the system's roots), verify-full the host name too; require encrypts without checking.
    static func tls(_ mode: DatabaseLocation.PostgresTLS) -> PostgresClient.Configuration.TLS {
        tlsConfiguration(mode).map { .require($0) } ?? .disable
    }

    /// The client TLS configuration of an `sslmode`, or nil for `disable`: shared by the pool and the start-up probe.
    static func tlsConfiguration(_ mode: DatabaseLocation.PostgresTLS) -> TLSConfiguration? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch mode {
        case .disable:
            return nil
        case .require:
            configuration.certificateVerification = .none
        case .verifyCA(let root):
            configuration.certificateVerification = .noHostnameVerification
            if let root { configuration.trustRoots = .file(root) }
        case .verifyFull(let root):
            configuration.certificateVerification = .fullVerification
            if let root { configuration.trustRoots = .file(root) }
        }
        return configuration
    }

    /// Closes the SQLite connection or stops the PostgreSQL pool. The backend is unusable afterwards.
    func close() async {
        switch kind {
        case .sqlite(let connection, _):
            guard closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
            try? await connection.close()
        case .postgres:
            poolTask?.cancel()
            await poolTask?.value
        }
    }

    /// How long one operation may wait for the database (including for a pooled connection) before failing.
    static let operationDeadline: Duration = .seconds(5)

    /// The race between a transaction reaching its commit and its deadline passing, decided once: either the
    /// transaction commits and its caller waits for the outcome, or the deadline wins, the caller is told
    /// `.unavailable` and the transaction rolls back. A write answered 503 is never committed after all (SQLite's
    /// driver ignores cancellation, so a slow statement used to run on and commit after the 503).
    final class CommitRace: Sendable {
        private let state = Atomic<UInt8>(0)  // 0: undecided, 1: committing, 2: timed out

        /// The transaction may commit (false: the deadline won; roll back).
        func claimCommit() -> Bool { state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged || state.load(ordering: .acquiring) == 1 }
        /// The deadline may answer (false: the transaction is committing; wait for it).
        func claimTimeout() -> Bool { state.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged }
        var timedOut: Bool { state.load(ordering: .acquiring) == 2 }
    }

    private enum Outcome<T: Sendable>: Sendable {
        case value(T)
        case timedOut
        case committing
    }

    /// Runs `operation`, failing with `.unavailable` when it outlives `deadline` (an unreachable PostgreSQL
    /// otherwise queues the request until a connection succeeds). Cancelling the operation rolls it back. With a
    /// `race`, a transaction that claimed its commit before the deadline is waited for.
    func withDeadline<T: Sendable>(
        _ deadline: Duration = operationDeadline, race: CommitRace? = nil, _ operation: @Sendable @escaping () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: Outcome<T>.self) { group in
            group.addTask { .value(try await operation()) }
            group.addTask {
                try await Task.sleep(for: deadline)
                return race?.claimTimeout() == false ? .committing : .timedOut
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                switch next {
                case .value(let value): return value
                case .committing: continue
                case .timedOut: throw StoreError.unavailable("no answer within \(deadline)")
                }
            }
            throw StoreError.unavailable("no answer within \(deadline)")
        }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws or when `deadline`
    /// passes first (then `.unavailable`, and nothing was written).
    func transaction<T: Sendable>(deadline: Duration = operationDeadline, _ body: @Sendable @escaping (any SQLDatabase) async throws -> T) async throws -> T {
        let race = CommitRace()
        return try await withDeadline(deadline, race: race) { try await self.unboundedTransaction(race: race, body) }
    }

    private func unboundedTransaction<T: Sendable>(race: CommitRace, _ body: @Sendable @escaping (any SQLDatabase) async throws -> T) async throws -> T {
        let tooLate = StoreError.unavailable("the deadline passed before the commit; rolled back")
        switch kind {
        case .sqlite(let connection, let mutex):
            return try await mutex.withLock {
                // Waited for the lock past the deadline: the caller has its answer already.
                if race.timedOut { throw tooLate }
                let database = connection.sql(queryLogLevel: nil)
                try await database.raw("BEGIN IMMEDIATE").run()
                do {
                    let result = try await body(database)
                    guard race.claimCommit() else { throw tooLate }
                    try await database.raw("COMMIT").run()
                    return result
                } catch {
                    // In a task of its own: a cancelled request (its deadline passed) must still roll back, or the
                    // connection stays inside this transaction and every later BEGIN fails.
                    await Task { try? await database.raw("ROLLBACK").run() }.value
                    throw error
                }
            }
        case .postgres(let client):
            do {
                return try await client.withTransaction(logger: logger) { connection in
                    let result = try await body(connection.sql(queryLogLevel: nil))
                    // Thrown inside the closure: postgres-nio rolls back.
                    guard race.claimCommit() else { throw tooLate }
                    return result
                }
            } catch let error as PostgresTransactionError {
                // Surface what actually failed: the caller's own error, or the driver's.
                throw error.closureError ?? error.commitError ?? error.beginError ?? error
            }
        }
    }

    /// Runs read-only `body` outside a transaction.
    func read<T: Sendable>(_ body: @Sendable @escaping (any SQLDatabase) async throws -> T) async throws -> T {
        try await withDeadline(Self.operationDeadline) { try await self.unboundedRead(body) }
    }

    private func unboundedRead<T: Sendable>(_ body: @Sendable @escaping (any SQLDatabase) async throws -> T) async throws -> T {
        switch kind {
        case .sqlite(let connection, let mutex):
            return try await mutex.withLock { try await body(connection.sql(queryLogLevel: nil)) }
        case .postgres(let client):
            return try await client.withConnection { connection in try await body(connection.sql(queryLogLevel: nil)) }
        }
    }

    /// Calls `onNotification` with the payload of every NOTIFY on `channel` until cancelled (PostgreSQL only).
    func listen(channel: String, onNotification: @Sendable @escaping (String) async -> Void) async throws {
        guard case .postgres(let client) = kind else { return }
        try await client.withConnection { connection in
            try await connection.listen(on: channel) { notifications in
                for try await notification in notifications {
                    await onNotification(notification.payload)
                }
            }
        }
    }

    /// Maps driver errors to store errors; the message never includes connection strings or values.
    func translate(_ error: any Error) -> StoreError {
        if let storeError = error as? StoreError { return storeError }
        if let psql = error as? PSQLError {
            if psql.serverInfo?[.sqlState] == PostgresError.Code.uniqueViolation.raw { return .conflict("unique constraint") }
            logger.error("PostgreSQL error", metadata: ["code": "\(psql.code)", "sqlState": "\(psql.serverInfo?[.sqlState] ?? "-")"])
            return .unavailable("PostgreSQL: \(psql.code)")
        }
        if let sqlite = error as? SQLiteError {
            if sqlite.reason == .constraint || sqlite.message.contains("UNIQUE constraint failed") { return .conflict("unique constraint") }
            logger.error("SQLite error", metadata: ["reason": "\(sqlite.reason)", "message": "\(sqlite.message)"])
            return .unavailable("SQLite: \(sqlite.reason)")
        }
        logger.error("database error", metadata: ["type": "\(String(reflecting: type(of: error)))"])
        return .unavailable("\(type(of: error))")
    }
}
