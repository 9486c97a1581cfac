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
}
