import ArgumentParser
import Broker
import Foundation
import JOSE
import Logging
import TenantRegistry

/// Opens the configured store with its pool running, migrates it, and runs `body`; store errors exit 1.
func withMigratedStore<T: Sendable>(_ options: StoreOptions, _ body: @Sendable @escaping (SQLTenantStore) async throws -> T) async throws -> T {
    let configuration = try options.configuration()
    var logger = Logger(label: "token-broker")
    logger.logLevel = .warning
    do {
        // API keys and migrations only: no tenant secret is read or written here, so no secrets key is needed.
        let store = try await SQLTenantStore.open(configuration.database, sealer: try! SecretSealer(keys: []), logger: logger)
        do {
            try await store.checkConnection()
            try await store.migrate()
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    } catch let error as StoreError {
        FileHandle.standardError.write(Data("token-broker: \(error.description)\n".utf8))
        throw ExitCode.failure
    }
}

/// `token-broker migrate`: applies pending schema migrations (serve does this at start-up too).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply pending schema migrations to the registry store and exit.")
    @OptionGroup var options: StoreOptions

    func run() async throws {
        let location = try options.configuration().database
        try await withMigratedStore(options) { _ in () }
        print("store \(location) is up to date")
    }
}
