import ArgumentParser
import Broker

/// Options of commands that open the registry store directly (offline administration); resolved as
/// `CLIConfiguration` says, so they find the daemon's store.
struct StoreOptions: ParsableArguments {
    @Option(help: "sqlite:PATH or postgres://... (env TOKEN_BROKER_DATABASE; default: the config's, else sqlite:data/token-broker.sqlite).")
    var database: String?

    @Option(name: .long, help: "JSON config file (env TOKEN_BROKER_CONFIG; default /etc/token-broker/token-broker.json when it exists).")
    var config: String?

    @Option(name: .long, help: "Environment file with TOKEN_BROKER_* settings (default /etc/token-broker/token-broker.env when it exists).")
    var envFile: String?

    @Flag(name: .long, help: "Make a new SQLite store when none exists at the path (without it, a missing store is an error).")
    var create = false

    func configuration() throws -> BrokerConfiguration {
        var flags = [String: String]()
        if let database { flags["database"] = database }
        let configuration = try CLIConfiguration.load(flags: flags, config: config, envFile: envFile)
        try CLIConfiguration.requireExistingStore(configuration, create: create)
        CLIConfiguration.announce("store", CLIConfiguration.describe(configuration.database), source: configuration.sources["database"])
        return configuration
    }
}
