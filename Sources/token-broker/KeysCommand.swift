import ArgumentParser
import Foundation
import JOSE
import KeyRing

/// `token-broker keys ...`: manage the signing key ring offline. Send SIGHUP to a running broker afterwards.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Generate, rotate, list and retire signing keys (then `kill -HUP` the broker to apply).",
        discussion: """
            Zero-downtime rotation: `keys generate` publishes the next key without signing with it; once every \
            verifier has refreshed its JWKS cache (the JWKS max-age), `keys rotate` makes it active; after the \
            largest token lifetime has passed, `keys retire <old kid>` removes the old key.
            """,
        subcommands: [Generate.self, Rotate.self, List.self, Retire.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key, published as 'next' (or 'active' in an empty ring), written 0600.")
        @OptionGroup var options: KeyRingOptions
        @Option(help: "ES256 (default), RS256, PS256 or EdDSA.") var alg: String = "ES256"
        @Option(help: "RSA modulus size for RS256/PS256 (2048-8192).") var rsaBits: Int = 2048
        @Flag(help: "Make the key ring directory when it does not exist (without it, a missing directory is an error).") var create = false

        func validate() throws {
            guard JWSAlgorithm(jose: alg) != nil else { throw ValidationError("--alg must be ES256, RS256, PS256 or EdDSA") }
            guard (2048...8192).contains(rsaBits) else { throw ValidationError("--rsa-bits must be between 2048 and 8192") }
        }

        func run() throws {
            let directory = try options.directoryToWrite(create: create)
            let entry = try report { () throws(KeyRingError) in try directory.generate(JWSAlgorithm(jose: alg)!, rsaBits: rsaBits) }
            print("generated \(entry.alg.rawValue) key \(entry.kid) (\(entry.state.rawValue)) in \(directory.path)")
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new key active: the given or oldest 'next' key, else a new one. The old key stays published.")
        @OptionGroup var options: KeyRingOptions
        @Option(help: "Algorithm of a newly generated key (default: the active key's).") var alg: String?
        @Option(help: "Promote this published key instead of the oldest 'next' key.") var kid: String?

        func validate() throws {
            if let alg, JWSAlgorithm(jose: alg) == nil { throw ValidationError("--alg must be ES256, RS256, PS256 or EdDSA") }
        }

        func run() throws {
            let directory = try options.directoryToWrite(create: false)
            let entry = try report { () throws(KeyRingError) in
                try directory.rotate(algorithm: alg.flatMap(JWSAlgorithm.init(jose:)), promote: kid)
            }
            print("active key is now \(entry.kid) (\(entry.alg.rawValue)); send SIGHUP to running brokers")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show every key: kid, alg, created, state.")
        @OptionGroup var options: KeyRingOptions
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() throws {
            let directory = KeyRingDirectory(path: try options.configuration().keysDir)
            let entries = try report { () throws(KeyRingError) in try directory.list() }
            if json {
                let values = entries.map { entry in
                    JSONValue.object([
                        "kid": .string(entry.kid), "alg": .string(entry.alg.rawValue), "state": .string(entry.state.rawValue),
                        "created": .string(entry.created.formatted(.iso8601)),
                    ])
                }
                print(JSONValue.array(values).serializedString())
                return
            }
            print("KID".padding(toLength: 44, withPad: " ", startingAt: 0) + "  ALG    CREATED               STATE")
            for entry in entries {
                print(
                    entry.kid.padding(toLength: 44, withPad: " ", startingAt: 0) + "  "
                        + entry.alg.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0) + "  "
                        + entry.created.formatted(.iso8601) + "  " + entry.state.rawValue)
            }
        }
    }

    struct Retire: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a key from the JWKS and delete its private key file (not the active key).")
        @OptionGroup var options: KeyRingOptions
        @Argument(help: "The kid to retire.") var kid: String

        func run() throws {
            let directory = try options.directoryToWrite(create: false)
            let entry = try report { () throws(KeyRingError) in try directory.retire(kid: kid) }
            print("retired \(entry.kid); send SIGHUP to running brokers")
        }
    }
}

/// Runs a key ring operation; its error is printed for the operator and the command exits 1.
func report<T>(_ body: () throws(KeyRingError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        FileHandle.standardError.write(Data(("token-broker: \(error.description)\n").utf8))
        throw ExitCode.failure
    }
}
