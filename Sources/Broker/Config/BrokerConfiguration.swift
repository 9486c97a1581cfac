import Configuration
import Foundation
import JOSE
import Logging
import OTP
import TenantRegistry

/// Every setting of the broker, resolved and validated. Built once by `load`.
public struct BrokerConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var issuer: String
    public var keysDir: String
    /// `--tls-cert` / `--tls-key`: both set for a native HTTPS listener.
    public var tlsCert: String?
    public var tlsKey: String?
    public var database: DatabaseLocation
    public var baseDomain: String
    public var keycloakURL: String
    public var keycloakIssuer: String
    public var keycloakClientId: String
    public var keycloakClientSecret: String?
    public var keycloakScope: String
    /// Accepted `aud` values of master-realm tokens; empty: not checked.
    public var keycloakAudience: [String]
    /// Accepted `azp` values of master-realm tokens; empty: not checked.
    public var keycloakAzp: [String]
    public var keycloakTimeout: Int
    public var loginMaxFailuresPerUser: Int
    public var loginMaxFailuresPerIp: Int
    public var loginFailureWindow: Int
    /// AES-256-GCM key for what OTP challenges hold; nil: a random key per process.
    public var otpSealingKey: [UInt8]?
    /// `--secrets-key`: the keys that seal (the first) and open tenant client secrets; nil: the key file in `keysDir`.
    public var secretsKeys: [[UInt8]]?
    var otpSettings: OTPManagerSettings
    var otpPolicy: OTPPolicy
    public var adminRole: String
    public var rolesClaim: String
    public var jwksMinRefetchInterval: Int
    public var tokenTTL: Int
    public var maxTokenTTL: Int
    public var leeway: Int
    public var jwksMaxAge: Int
    public var shutdownGracePeriod: Int
    /// `--require-tenant-hint`: `/v1/verify` refuses a request that names no tenant (X-Forwarded-Host, ?tenant=).
    public var requireTenantHint: Bool
    /// `--request-head-timeout`: seconds for a whole request head, and the longest a body may stall.
    public var requestHeadTimeout: Int
    /// `--idle-timeout`: seconds a keep-alive connection may wait for its next request.
    public var idleTimeout: Int
    /// `--tenant-mint-rate`, `--tenant-otp-rate`, `--tenant-login-rate`: the limits of tenants whose own are null (0: none).
    public var tenantMintRate: Int = 1000
    public var tenantOtpRate: Int = 300
    public var tenantLoginRate: Int = 600
    /// Days after its deletion a deleted tenant is purged (0: never).
    public var deletedTenantRetention: Int = 30
    /// `--console`: the operator console at `/console/` is served (false: 404).
    public var console: Bool = true
    /// `--listen-backlog`: completed connections the kernel may queue before the server accepts them.
    public var listenBacklog: Int = 1024
    /// Threads of the HTTP server's event loop group; 0: NIO's shared group, one thread per CPU core.
    public var eventLoopThreads: Int
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// Tenants whose metrics carry their own `tenant` label; every other tenant is counted as `other`, so
    /// the number of series stays bounded however many tenants there are.
    public var metricsTenants: Set<String>
    /// `--tracing-endpoint`: where spans go over OTLP/HTTP; nil: no tracing (no middleware on the request path).
    public var tracingEndpoint: String?

    /// How log lines are written.
    public enum LogFormat: String, Sendable {
        case text, json
    }

    /// Whether `issuer` was set explicitly (otherwise it follows the bound address).
    public var issuerIsExplicit: Bool
    /// Every setting's value as resolved from its sources, by setting key (secrets included: compare, never
    /// log). SIGHUP names each changed setting it cannot apply without a restart from this.
    public var resolvedSettings: [String: String] = [:]
    /// Where each setting's value came from, for messages that tell an operator what was used: `--database`,
    /// `TOKEN_BROKER_DATABASE`, `config file /etc/token-broker/token-broker.json`, or `default`.
    public var sources: [String: String] = [:]

    /// Resolves settings from flags, then `TOKEN_BROKER_*` environment variables, then the JSON config file,
    /// then defaults. Unknown keys and invalid values are errors, never silently ignored.
    public static func load(
        flags: [String: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment,
        configFile: String? = nil
    ) throws(ConfigurationError) -> BrokerConfiguration {
        let known = Set(Setting.all.map(\.key))
        for key in flags.keys where !known.contains(key) { throw ConfigurationError("unknown setting \(key)") }
        let knownVariables = Set(Setting.all.map(\.environmentVariable) + ["TOKEN_BROKER_CONFIG"])
        for name in environment.keys.sorted() where name.hasPrefix("TOKEN_BROKER_") && !knownVariables.contains(name) {
            throw ConfigurationError("unknown environment variable \(name); known: \(knownVariables.sorted().joined(separator: ", "))")
        }
        var fileValues = [AbsoluteConfigKey: ConfigValue]()
        if let path = configFile ?? environment["TOKEN_BROKER_CONFIG"] {
            for (key, value) in try readConfigFile(path) {
                fileValues[AbsoluteConfigKey([key])] = ConfigValue(.string(value), isSecret: Setting.named(key)?.isSecret ?? false)
            }
        }
        var flagValues = [AbsoluteConfigKey: ConfigValue]()
        for (key, value) in flags {
            flagValues[AbsoluteConfigKey([key])] = ConfigValue(.string(value), isSecret: Setting.named(key)?.isSecret ?? false)
        }
        let reader = ConfigReader(providers: [
            InMemoryProvider(name: "flags", values: flagValues),
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ["tokenBroker"]),
            InMemoryProvider(name: "config file", values: fileValues),
        ])
        func text(_ key: String) -> String? {
            reader.string(forKey: ConfigKey(key), isSecret: Setting.named(key)?.isSecret ?? false)
                ?? Setting.named(key)?.defaultValue
        }
        func integer(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            let raw = text(key) ?? ""
            guard let value = Int(raw.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
                let setting = Setting.named(key)!
                throw ConfigurationError(
                    "\(setting.flag) / \(setting.environmentVariable): '\(raw)' is not a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }

        func boolean(_ key: String) throws(ConfigurationError) -> Bool {
            switch (text(key) ?? "").trimmingCharacters(in: .whitespaces).lowercased() {
            case "true", "1", "yes", "on": return true
            case "false", "0", "no", "off", "": return false
            case let raw:
                let setting = Setting.named(key)!
                throw ConfigurationError("\(setting.flag) / \(setting.environmentVariable): '\(raw)' is not true or false")
            }
        }

        let host = text("host")!
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".:-_[]".contains($0) }) else {
            throw ConfigurationError("--host: '\(host)' is not a host name or IP address")
        }
        let port = try integer("port", in: 0...65535)
        let leeway = try integer("leeway", in: 0...300)
        let tokenTTL = try integer("tokenTtl", in: 1...86_400)
        let maxTokenTTL = try integer("maxTokenTtl", in: 1...86_400)
        guard tokenTTL <= maxTokenTTL else {
            throw ConfigurationError("--token-ttl (\(tokenTTL)) must not exceed --max-token-ttl (\(maxTokenTTL))")
        }
        let levelText = text("logLevel")!
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ConfigurationError("--log-level: '\(levelText)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        let formatText = text("logFormat")!
        guard let format = LogFormat(rawValue: formatText.lowercased()) else {
            throw ConfigurationError("--log-format: '\(formatText)' is not text or json")
        }
        let baseDomain = text("baseDomain")!.lowercased()
        guard TenantRules.isDomainName(baseDomain) else { throw ConfigurationError("--base-domain: '\(baseDomain)' is not a domain name") }
        let keysDir = text("keysDir")!
        guard !keysDir.isEmpty else { throw ConfigurationError("--keys-dir must not be empty") }
        let database: DatabaseLocation
        do {
            database = try DatabaseLocation.parse(text("database")!)
        } catch {
            throw ConfigurationError("--database / TOKEN_BROKER_DATABASE: \(error.message)")
        }

        func url(_ key: String, _ raw: String) throws(ConfigurationError) -> String {
            guard let parsed = URL(string: raw), let scheme = parsed.scheme, ["http", "https"].contains(scheme), parsed.host != nil,
                parsed.query == nil, parsed.fragment == nil
            else { throw ConfigurationError("\(Setting.named(key)!.flag): '\(raw)' is not an absolute http(s) URL") }
            var trimmed = raw
            while trimmed.hasSuffix("/") { trimmed.removeLast() }
            return trimmed
        }
        let keycloakURL = try url("keycloakUrl", text("keycloakUrl")!)
        let keycloakIssuer = try url("keycloakIssuer", text("keycloakIssuer") ?? keycloakURL + "/realms/master")
        let adminRole = text("adminRole")!
        let rolesClaim = text("rolesClaim")!
        guard !adminRole.isEmpty, !rolesClaim.isEmpty, !rolesClaim.hasPrefix("."), !rolesClaim.hasSuffix(".") else {
            throw ConfigurationError("--admin-role and --roles-claim must not be empty (roles claim: a dotted path like realm_access.roles)")
        }

        let clientId = text("keycloakClientId")!
        guard !clientId.isEmpty, clientId.utf8.count <= 255 else { throw ConfigurationError("--keycloak-client-id must be 1-255 characters") }
        let clientSecret = text("keycloakClientSecret").flatMap { $0.isEmpty ? nil : $0 }
        func list(_ key: String) -> [String] {
            (text(key) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }

        var otpSealingKey: [UInt8]?
        if let raw = text("otpSealingKey"), !raw.isEmpty {
            guard let key = Self.key32(raw) else {
                throw ConfigurationError("--otp-sealing-key must be base64 of exactly 32 bytes (e.g. openssl rand -base64 32)")
            }
            otpSealingKey = key
        }
        var secretsKeys: [[UInt8]]?
        if let raw = text("secretsKey"), !raw.isEmpty {
            var keys: [[UInt8]] = []
            for part in raw.split(separator: ",") {
                guard let key = Self.key32(String(part)) else {
                    throw ConfigurationError(
                        "--secrets-key must be base64 of exactly 32 bytes (e.g. openssl rand -base64 32), or several, comma-separated, the sealing one first")
                }
                keys.append(key)
            }
            secretsKeys = keys
        }
        var fieldNames = [String: String]()
        for pair in list("otpFieldNames") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let known = ["tenantId", "channelType", "serviceIdentifier", "recipient", "expirySeconds", "reference", "otpId", "otp", "valid"]
            guard parts.count == 2, known.contains(parts[0]), !parts[1].isEmpty, parts[1].utf8.count <= 64 else {
                throw ConfigurationError("--otp-field-names: '\(pair)' is not name=wireName with name one of \(known.joined(separator: ", "))")
            }
            fieldNames[parts[0]] = parts[1]
        }
        let backoffBase = try integer("otpBackoffBase", in: 1...10_000)
        let backoffCap = try integer("otpBackoffCap", in: 1...60_000)
        let otpSettings = OTPManagerSettings(
            generatePath: text("otpGeneratePath")!, verifyPath: text("otpVerifyPath")!, fieldNames: fieldNames,
            tries: try integer("otpTries", in: 1...10), backoffBase: Double(backoffBase) / 1000, backoffCap: Double(max(backoffBase, backoffCap)) / 1000,
            deadline: Double(try integer("otpDeadline", in: 1...60)), perTenantConcurrency: try integer("otpTenantConcurrency", in: 1...1000))
        for (flag, path) in [("--otp-generate-path", otpSettings.generatePath), ("--otp-verify-path", otpSettings.verifyPath)] {
            guard !path.isEmpty, path.utf8.count <= 256, !path.contains("?"), !path.contains("#"), !path.contains("..") else {
                throw ConfigurationError("\(flag): '\(path)' is not a relative path")
            }
        }
        let otpPolicy = OTPPolicy(
            resendLimit: try integer("otpResendLimit", in: 0...10), resendSpacing: Double(try integer("otpResendInterval", in: 0...3600)),
            emailClaim: text("otpEmailClaim")!, phoneClaim: text("otpPhoneClaim")!)

        let metricsTenants = Set(list("metricsTenants"))
        for tenantId in metricsTenants.sorted() where !TenantRules.isValidTenantId(tenantId) || tenantId == Self.otherTenantsLabel {
            throw ConfigurationError(
                "--metrics-tenants: '\(tenantId)' is not a tenant id"
                    + (tenantId == Self.otherTenantsLabel ? " that can be labelled ('other' stands for every unlisted tenant)" : ""))
        }
        guard metricsTenants.count <= Self.maxMetricsTenants else {
            throw ConfigurationError("--metrics-tenants lists \(metricsTenants.count) tenants; at most \(Self.maxMetricsTenants), so /metrics stays small")
        }

        var tracingEndpoint: String?
        if let raw = text("tracingEndpoint"), !raw.isEmpty {
            let endpoint = try url("tracingEndpoint", raw)
            // swift-otel posts to this URL as given: without a path every export would go to `/` and be lost.
            guard let path = URL(string: endpoint)?.path, !path.isEmpty, path != "/" else {
                throw ConfigurationError("--tracing-endpoint: '\(raw)' has no path; give the full traces URL, e.g. http://otel-collector:4318/v1/traces")
            }
            tracingEndpoint = endpoint
        }

        let tlsCert = text("tlsCert").flatMap { $0.isEmpty ? nil : $0 }
        let tlsKey = text("tlsKey").flatMap { $0.isEmpty ? nil : $0 }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ConfigurationError("--tls-cert and --tls-key go together: set both or neither") }

        var issuer = text("issuer")
        if let explicit = issuer {
            guard let url = URL(string: explicit), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
                url.query == nil, url.fragment == nil
            else { throw ConfigurationError("--issuer: '\(explicit)' is not an absolute http(s) URL without query or fragment") }
            while issuer!.hasSuffix("/") { issuer!.removeLast() }
        }
        var configuration = BrokerConfiguration(
            host: host, port: port, issuer: issuer ?? defaultIssuer(host: host, port: port, tls: tlsCert != nil), keysDir: keysDir,
            tlsCert: tlsCert, tlsKey: tlsKey, database: database,
            baseDomain: baseDomain, keycloakURL: keycloakURL, keycloakIssuer: keycloakIssuer,
            keycloakClientId: clientId, keycloakClientSecret: clientSecret, keycloakScope: text("keycloakScope") ?? "",
            keycloakAudience: list("keycloakAudience"), keycloakAzp: list("keycloakAzp"), keycloakTimeout: try integer("keycloakTimeout", in: 1...120),
            loginMaxFailuresPerUser: try integer("loginMaxFailuresPerUser", in: 0...1000), loginMaxFailuresPerIp: try integer("loginMaxFailuresPerIp", in: 0...100_000),
            loginFailureWindow: try integer("loginFailureWindow", in: 1...86_400), otpSealingKey: otpSealingKey, secretsKeys: secretsKeys, otpSettings: otpSettings,
            otpPolicy: otpPolicy, adminRole: adminRole, rolesClaim: rolesClaim,
            jwksMinRefetchInterval: try integer("jwksMinRefetchInterval", in: 0...3600), tokenTTL: tokenTTL, maxTokenTTL: maxTokenTTL, leeway: leeway,
            jwksMaxAge: try integer("jwksMaxAge", in: 0...86_400),
            shutdownGracePeriod: try integer("shutdownGracePeriod", in: 0...3600),
            requireTenantHint: try boolean("requireTenantHint"), requestHeadTimeout: try integer("requestHeadTimeout", in: 1...3600), idleTimeout: try integer("idleTimeout", in: 1...86_400),
            eventLoopThreads: try integer("eventLoopThreads", in: 0...256), logLevel: level, logFormat: format,
            metricsTenants: metricsTenants, tracingEndpoint: tracingEndpoint, issuerIsExplicit: issuer != nil)
        configuration.listenBacklog = try integer("listenBacklog", in: 16...65_535)
        configuration.tenantMintRate = try integer("tenantMintRate", in: 0...TenantLimits.maxMintPerSecond)
        configuration.tenantOtpRate = try integer("tenantOtpRate", in: 0...TenantLimits.maxPerMinute)
        configuration.tenantLoginRate = try integer("tenantLoginRate", in: 0...TenantLimits.maxPerMinute)
        configuration.deletedTenantRetention = try integer("deletedTenantRetention", in: 0...36_500)
        configuration.console = try boolean("console")
        configuration.resolvedSettings = Dictionary(uniqueKeysWithValues: Setting.all.map { ($0.key, text($0.key) ?? "") })
        let configPath = configFile ?? environment["TOKEN_BROKER_CONFIG"]
        configuration.sources = Dictionary(uniqueKeysWithValues: Setting.all.map { setting in
            let source: String
            if flags[setting.key] != nil {
                source = setting.flag
            } else if environment[setting.environmentVariable] != nil {
                source = setting.environmentVariable
            } else if let configPath, fileValues[AbsoluteConfigKey([setting.key])] != nil {
                source = "config file \(configPath)"
            } else {
                source = "default"
            }
            return (setting.key, source)
        })
        return configuration
    }

    /// 32 bytes from base64 (standard or URL alphabet, padding optional), or nil.
    static func key32(_ raw: String) -> [UInt8]? {
        let normalized = raw.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let padded = normalized + String(repeating: "=", count: (4 - normalized.count % 4) % 4)
        guard let data = Data(base64Encoded: padded), data.count == 32 else { return nil }
        return Array(data)
    }

    /// The `tenant` label value of every tenant `--metrics-tenants` does not list.
    public static let otherTenantsLabel = "other"
    /// The most tenants `--metrics-tenants` may list: each adds a series per endpoint.
    static let maxMetricsTenants = 1000

    /// `http://host:port`, bracketing IPv6 literals.
    public static func defaultIssuer(host: String, port: Int, tls: Bool = false) -> String {
        let shownHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(tls ? "https" : "http")://\(shownHost):\(port)"
    }

    /// Reads a flat JSON object of settings; nested values, unknown keys and non-scalar values are errors.
    static func readConfigFile(_ path: String) throws(ConfigurationError) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("config file \(path) does not exist or cannot be read")
        }
        let object: [String: JSONValue]
        do {
            object = try JSONParser(maxBytes: 1 << 20).parseObject(Array(data))
        } catch {
            throw ConfigurationError("config file \(path) is not a JSON object (\(error))")
        }
        var values = [String: String]()
        for (key, value) in object {
            guard Setting.named(key) != nil else {
                throw ConfigurationError(
                    "config file \(path): unknown setting '\(key)'; known: \(Setting.all.map(\.key).joined(separator: ", "))")
            }
            switch value {
            case .string(let string): values[key] = string
            case .int(let number): values[key] = String(number)
            case .bool(let flag): values[key] = String(flag)
            default: throw ConfigurationError("config file \(path): '\(key)' must be a string or a whole number")
            }
        }
        return values
    }
}

extension BrokerConfiguration {
    /// The `TOKEN_BROKER_*` variables of an environment file as systemd's `EnvironmentFile=` reads it: `NAME=value`
    /// lines, `#` and `;` comments, values optionally in matching single or double quotes. Other names are ignored.
    public static func readEnvironmentFile(_ path: String) throws(ConfigurationError) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("environment file \(path) does not exist or cannot be read")
        }
        var values = [String: String]()
        for (number, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            guard let equals = line.firstIndex(of: "="), !line[..<equals].isEmpty else {
                throw ConfigurationError("environment file \(path), line \(number + 1): expected NAME=value")
            }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            if name.hasPrefix("TOKEN_BROKER_") { values[name] = value }
        }
        return values
    }
}
