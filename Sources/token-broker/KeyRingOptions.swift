import ArgumentParser
import Broker
import KeyRing

/// Options every command that touches the key ring shares; resolved as `CLIConfiguration` says (flag, env,
/// environment file, config file), so they find the daemon's key ring.
struct KeyRingOptions: ParsableArguments {
    @Option(name: .long, help: "Key ring directory (env TOKEN_BROKER_KEYS_DIR; default: the config's, else keys).")
    var keysDir: String?

    @Option(name: .long, help: "JSON config file (env TOKEN_BROKER_CONFIG; default /etc/token-broker/token-broker.json when it exists).")
    var config: String?

    @Option(name: .long, help: "Environment file with TOKEN_BROKER_* settings (default /etc/token-broker/token-broker.env when it exists).")
    var envFile: String?

    func configuration(extra: [String: String] = [:]) throws -> BrokerConfiguration {
        var flags = extra
        if let keysDir { flags["keysDir"] = keysDir }
        return try CLIConfiguration.load(flags: flags, config: config, envFile: envFile)
    }

    /// The key ring a writing command acts on, named on standard error with where it came from; a directory that
    /// does not exist is refused unless `create`.
    func directoryToWrite(create: Bool) throws -> KeyRingDirectory {
        let configuration = try configuration()
        try CLIConfiguration.requireExistingKeyRing(configuration, create: create)
        CLIConfiguration.announce("key ring", CLIConfiguration.absolute(configuration.keysDir), source: configuration.sources["keysDir"])
        return KeyRingDirectory(path: configuration.keysDir)
    }
}
