import ArgumentParser
import Broker

/// Options every command that touches the key ring shares; resolved like `serve` (flag, env, config file).
struct KeyRingOptions: ParsableArguments {
    @Option(name: .long, help: "Key ring directory (env TOKEN_BROKER_KEYS_DIR; default keys).")
    var keysDir: String?

    @Option(name: .long, help: "JSON config file (env TOKEN_BROKER_CONFIG).")
    var config: String?

    func configuration(extra: [String: String] = [:]) throws -> BrokerConfiguration {
        var flags = extra
        if let keysDir { flags["keysDir"] = keysDir }
        do {
            return try BrokerConfiguration.load(flags: flags, configFile: config)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
