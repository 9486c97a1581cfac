import ArgumentParser
import Broker

/// Options of commands that open the registry store directly (offline administration).
struct StoreOptions: ParsableArguments {
    @Option(help: "sqlite:PATH or postgres://... (env TOKEN_BROKER_DATABASE; default sqlite:data/token-broker.sqlite).")
    var database: String?

    @Option(name: .long, help: "JSON config file (env TOKEN_BROKER_CONFIG).")
    var config: String?

    func configuration() throws -> BrokerConfiguration {
        var flags = [String: String]()
        if let database { flags["database"] = database }
        do {
            return try BrokerConfiguration.load(flags: flags, configFile: config)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
