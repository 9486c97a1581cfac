import Broker
import Foundation
import StoreTestSupport
import Testing

/// The documents operators read must name every setting the code understands, and the example must load.
@Suite("documentation matches the code") struct DocumentationTests {
    static let root = PythonPeer.repositoryRoot

    @Test("the README's configuration table lists every setting with its flag, variable and default")
    func readmeTable() throws {
        let readme = try String(contentsOfFile: Self.root + "/README.md", encoding: .utf8)
        for setting in Setting.all {
            let row = try #require(readme.split(separator: "\n").first { $0.hasPrefix("| `\(setting.flag)`") }, "\(setting.flag)")
            #expect(row.contains("`\(setting.environmentVariable)`"))
            #expect(row.contains("`\(setting.key)`"))
            if let value = setting.defaultValue { #expect(row.contains("`\(value)`"), "\(setting.key) default") }
        }
    }

    @Test("deploy/token-broker.example.json sets every setting and loads without error")
    func exampleConfig() throws {
        let path = Self.root + "/deploy/token-broker.example.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for setting in Setting.all { #expect(text.contains("\"\(setting.key)\""), "\(setting.key) missing from the example") }
        let configuration = try BrokerConfiguration.load(environment: [:], configFile: path)
        #expect(configuration.issuer == "https://auth.expertflow.com")
        #expect(configuration.logFormat == .json)
    }

    @Test("serve --help documents every setting's flag")
    func serveHelp() async throws {
        let scratch = ScratchDirectory()
        let help = try await BrokerProcess.run(["serve", "--help"], directory: scratch.path).stdout
        for setting in Setting.all { #expect(help.contains(setting.flag), "\(setting.flag)") }
    }

    @Test("every flag of the README's configuration table is one serve --help knows; every OpenAPI path is in the README")
    func readmeAgainstHelpAndOpenAPI() async throws {
        let readme = try String(contentsOfFile: Self.root + "/README.md", encoding: .utf8)
        let scratch = ScratchDirectory()
        let help = try await BrokerProcess.run(["serve", "--help"], directory: scratch.path).stdout
        let rows = readme.split(separator: "\n").filter { $0.hasPrefix("| `--") }
        #expect(rows.count >= Setting.all.count)
        for row in rows {
            let flag = String(row.dropFirst(3).prefix { $0 != "`" })
            #expect(help.contains(flag), "README documents \(flag), serve --help does not")
        }
        // Paths with their parameters named alike ({tenantId}, {id} -> {}), as the README abbreviates them.
        func normalized(_ text: String) -> String { text.replacingOccurrences(of: #"\{[A-Za-z]+\}"#, with: "{}", options: .regularExpression) }
        let openapi = try String(contentsOfFile: Self.root + "/Sources/Broker/Resources/openapi.yaml", encoding: .utf8)
        let paths = openapi.split(separator: "\n").filter { $0.hasPrefix("  /") && $0.hasSuffix(":") }.map { String($0.dropFirst(2).dropLast()) }
        #expect(paths.count >= 30, "\(paths.count) paths read from the OpenAPI document")
        let text = normalized(readme)
        for path in paths { #expect(text.contains("`" + normalized(path) + "`") || text.contains("`" + normalized(path) + "?") || text.contains("`" + normalized(path) + "["), "\(path) is not in the README") }
    }
}
