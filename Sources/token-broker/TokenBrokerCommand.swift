import ArgumentParser
import Foundation

/// `token-broker`: the daemon and its operator tools.
@main
struct TokenBrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token-broker",
        abstract: "Tenant-scoped token broker in front of Keycloak: mints and verifies cx-tenant tokens.",
        subcommands: [ServeCommand.self, KeysCommand.self, TokenCommand.self, APIKeysCommand.self, MigrateCommand.self, HealthCommand.self]
    )

    /// Usage errors exit 2 (as the contract says for `token inspect`), not ArgumentParser's 64.
    static func main() async {
        // Everything the broker creates (SQLite file and its -wal/-shm, key files, lock) is private by default;
        // files meant to be readable (keyring.json) get their mode explicitly.
        umask(0o077)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
