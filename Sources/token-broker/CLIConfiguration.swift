import ArgumentParser
import Broker
import Foundation
import TenantRegistry

/// How the offline commands (`api-keys`, `keys`, `token`, `migrate`) find the daemon's settings, so that they act on
/// its store and key ring wherever they are run from: flags first, then `TOKEN_BROKER_*` variables, then those of
/// the environment file (`--env-file`, else `/etc/token-broker/token-broker.env` when it exists: the one the
/// systemd unit reads), then the config file (`--config`, `TOKEN_BROKER_CONFIG`, else
/// `/etc/token-broker/token-broker.json` when it exists), then the defaults.
enum CLIConfiguration {
    static let systemEnvironmentFile = "/etc/token-broker/token-broker.env"
    static let systemConfigFile = "/etc/token-broker/token-broker.json"

    static func load(flags: [String: String], config: String?, envFile: String?) throws -> BrokerConfiguration {
        var environment = ProcessInfo.processInfo.environment
        let file = envFile ?? (FileManager.default.fileExists(atPath: systemEnvironmentFile) ? systemEnvironmentFile : nil)
        let fromFile: [String: String]
        do {
            fromFile = try file.map(BrokerConfiguration.readEnvironmentFile) ?? [:]
        } catch {
            throw refusal(error.description)
        }
        // The process's own variables win over the file's, as for any program started with it.
        var fileNames = Set<String>()
        for (name, value) in fromFile where environment[name] == nil {
            environment[name] = value
            fileNames.insert(name)
        }
        let configFile = config ?? environment["TOKEN_BROKER_CONFIG"]
            ?? (FileManager.default.fileExists(atPath: systemConfigFile) ? systemConfigFile : nil)
        var configuration: BrokerConfiguration
        do {
            configuration = try BrokerConfiguration.load(flags: flags, environment: environment, configFile: configFile)
        } catch {
            throw refusal(error.description)
        }
        if let file {
            for (key, source) in configuration.sources where fileNames.contains(source) { configuration.sources[key] = "\(source) in \(file)" }
        }
        return configuration
    }

    /// `location` as an operator should read it: a SQLite path made absolute (the current directory named), a
    /// PostgreSQL URL without its password.
    static func describe(_ location: DatabaseLocation) -> String {
        if case .sqlite(let path) = location { return "sqlite:" + absolute(path) }
        return location.description
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// Tells the operator on standard error which store or key ring a command acts on and where that came from.
    static func announce(_ what: String, _ value: String, source: String?) {
        FileHandle.standardError.write(Data("\(what): \(value) (from \(source ?? "default"))\n".utf8))
    }

    /// Prints `message` for the operator (no usage text: the command line was not the problem) and returns the error
    /// that ends the command with exit status 2.
    static func refusal(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("token-broker: \(message)\n".utf8))
        return ExitCode(2)
    }

    /// Refuses to go on with a SQLite store that does not exist yet unless `create`: a command run in the wrong
    /// directory would otherwise make a new, empty store beside the daemon's and act on that.
    static func requireExistingStore(_ configuration: BrokerConfiguration, create: Bool) throws {
        guard case .sqlite(let path) = configuration.database, !create, !FileManager.default.fileExists(atPath: path) else { return }
        throw refusal(
            """
            no store at \(absolute(path)) (database from \(configuration.sources["database"] ?? "default")). \
            The daemon's store is named by --database, TOKEN_BROKER_DATABASE or the config file (--config, TOKEN_BROKER_CONFIG, \
            \(systemConfigFile)); run this where the daemon runs or name it, or pass --create to make a new store there.
            """)
    }

    /// Refuses a key ring directory that does not exist unless `create`.
    static func requireExistingKeyRing(_ configuration: BrokerConfiguration, create: Bool) throws {
        guard !create, !FileManager.default.fileExists(atPath: configuration.keysDir) else { return }
        throw refusal(
            """
            no key ring directory at \(absolute(configuration.keysDir)) (keys dir from \(configuration.sources["keysDir"] ?? "default")). \
            The daemon's is named by --keys-dir, TOKEN_BROKER_KEYS_DIR or the config file; name it, or pass --create to make a new key ring there.
            """)
    }
}
