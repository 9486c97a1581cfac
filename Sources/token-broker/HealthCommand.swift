import ArgumentParser
import AsyncHTTPClient
import Broker
import Foundation

/// `token-broker health`: asks a running broker's `/healthz` and exits 0 when it answers 200, 1 otherwise: the
/// container image's HEALTHCHECK, with no curl in the image. The address comes from the same settings as `serve`
/// (`--port`, `TOKEN_BROKER_PORT`, the config file); a wildcard listen address is asked on loopback.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health", abstract: "Exit 0 when the broker on this host answers GET /healthz with 200 (for container health checks).")

    @Option(help: "The URL to ask (default http://<host>:<port>/healthz from the broker's settings).") var url: String?
    @Option(help: "JSON config file (env TOKEN_BROKER_CONFIG).") var config: String?
    @Option(help: "Seconds to wait for the answer, 1-300 (default 3).") var timeout: Int = 3

    func validate() throws {
        guard (1...300).contains(timeout) else { throw ValidationError("--timeout must be a whole number of seconds from 1 to 300, not \(timeout)") }
        if let url, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw ValidationError("--url must be an http:// or https:// URL, such as http://127.0.0.1:8080/healthz")
        }
    }

    func run() async throws {
        let target: String
        if let url {
            target = url
        } else {
            let settings = try CLIConfiguration.load(flags: [:], config: config, envFile: nil)
            let host = ["0.0.0.0", "::", ""].contains(settings.host) ? "127.0.0.1" : settings.host
            let scheme = settings.tlsCert != nil ? "https" : "http"
            target = BrokerConfiguration.defaultIssuer(host: host, port: settings.port, tls: scheme == "https") + "/healthz"
        }
        var request = HTTPClientRequest(url: target)
        request.method = .GET
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(Int64(timeout)))
            guard response.status == .ok else {
                FileHandle.standardError.write(Data("token-broker: \(target) answered \(response.status.code)\n".utf8))
                throw ExitCode.failure
            }
            print("ok: \(target)")
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("token-broker: \(target) did not answer: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
