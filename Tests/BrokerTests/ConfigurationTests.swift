import Broker
import Foundation
import StoreTestSupport
import Testing

@Suite("configuration") struct ConfigurationTests {
    @Test("defaults match the contract")
    func defaults() throws {
        let configuration = try BrokerConfiguration.load(environment: [:])
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8080)
        #expect(configuration.issuer == "http://127.0.0.1:8080")
        #expect(configuration.keysDir == "keys")
        #expect(configuration.baseDomain == "expertflow.com")
        #expect(configuration.tokenTTL == 300 && configuration.maxTokenTTL == 3600 && configuration.leeway == 60)
        #expect(configuration.logLevel == .info && configuration.logFormat == .text)
        #expect(!configuration.issuerIsExplicit)
        #expect(configuration.eventLoopThreads == 0, "one event loop per core unless set")
        #expect(configuration.listenBacklog == 1024, "a burst of 1024 connections is queued, not dropped to SYN retransmits")
        #expect(configuration.deletedTenantRetention == 30, "deleted tenants are purged 30 days after deletion unless said otherwise")
        #expect(try BrokerConfiguration.load(flags: ["eventLoopThreads": "1"], environment: [:]).eventLoopThreads == 1)
    }

    @Test("--metrics-tenants: a comma-separated list from flag, variable or file, blanks dropped, empty by default, at most 1000")
    func metricsTenants() throws {
        #expect(try BrokerConfiguration.load(environment: [:]).metricsTenants.isEmpty)
        #expect(try BrokerConfiguration.load(flags: ["metricsTenants": " t1, t2,,t1 "], environment: [:]).metricsTenants == ["t1", "t2"])
        #expect(try BrokerConfiguration.load(environment: ["TOKEN_BROKER_METRICS_TENANTS": "acme"]).metricsTenants == ["acme"])
        let thousand = (1...1000).map { "t\($0)" }
        #expect(try BrokerConfiguration.load(flags: ["metricsTenants": thousand.joined(separator: ",")], environment: [:]).metricsTenants.count == 1000)
        #expect(throws: ConfigurationError.self) {
            try BrokerConfiguration.load(flags: ["metricsTenants": (thousand + ["t1001"]).joined(separator: ",")], environment: [:])
        }
    }

    @Test("flags beat environment variables, which beat the config file")
    func precedence() throws {
        let scratch = ScratchDirectory()
        let file = scratch.path + "/c.json"
        try Data(#"{"port": 7000, "leeway": 10, "baseDomain": "file.example"}"#.utf8).write(to: URL(fileURLWithPath: file))
        let configuration = try BrokerConfiguration.load(
            flags: ["port": "9000"], environment: ["TOKEN_BROKER_PORT": "8000", "TOKEN_BROKER_LEEWAY": "20"], configFile: file)
        #expect(configuration.port == 9000)
        #expect(configuration.leeway == 20)
        #expect(configuration.baseDomain == "file.example")
        #expect(configuration.issuer == "http://127.0.0.1:9000")
    }

    @Test("an IPv6 host is bracketed in the default issuer; an explicit issuer loses its trailing slash")
    func issuer() throws {
        #expect(try BrokerConfiguration.load(flags: ["host": "::1", "port": "1"], environment: [:]).issuer == "http://[::1]:1")
        #expect(try BrokerConfiguration.load(flags: ["issuer": "https://a.example/"], environment: [:]).issuer == "https://a.example")
    }

    @Test("bad values are refused with a message naming the setting", arguments: [
        ("port", "65536"), ("port", "-1"), ("port", "80x"), ("leeway", "301"), ("tokenTtl", "0"), ("maxTokenTtl", "99999999"),
        ("logLevel", "verbose"), ("logFormat", "xml"), ("issuer", "not a url"), ("issuer", "https://a.example/?q=1"),
        ("baseDomain", "bad_domain"), ("baseDomain", "-x.com"), ("host", "a b"), ("keysDir", ""), ("tokenTtl", "4000"),
        ("metricsTenants", "other"), ("metricsTenants", "t1,Not_A_Tenant"), ("eventLoopThreads", "257"), ("eventLoopThreads", "-1"), ("listenBacklog", "15"), ("listenBacklog", "65536"), ("tenantMintRate", "-1"), ("tenantMintRate", "1000001"), ("tenantOtpRate", "x"), ("tenantLoginRate", "1.5"), ("deletedTenantRetention", "-1"), ("deletedTenantRetention", "36501"),
    ])
    func badValues(key: String, value: String) {
        do {
            _ = try BrokerConfiguration.load(flags: [key: value], environment: [:])
            Issue.record("accepted \(key)=\(value)")
        } catch {
            let setting = Setting.named(key)!
            #expect(error.description.contains(setting.flag) || error.description.contains("max-token-ttl"), "\(error.description)")
        }
    }

    @Test("unknown environment variables and file keys are refused")
    func unknownKeys() throws {
        #expect(throws: ConfigurationError.self) { try BrokerConfiguration.load(environment: ["TOKEN_BROKER_KEYSDIR": "x"]) }
        let scratch = ScratchDirectory()
        let file = scratch.path + "/c.json"
        for body in [#"{"keysdir": "x"}"#, #"{"port": {"value": 1}}"#, #"[1]"#, "not json", #"{"port": 1, "port": 2}"#] {
            try Data(body.utf8).write(to: URL(fileURLWithPath: file))
            #expect(throws: ConfigurationError.self, "\(body)") { try BrokerConfiguration.load(environment: [:], configFile: file) }
        }
    }
}
