import ArgumentParser
import Broker
import Foundation
import KeyRing
import Logging
import OTel
import ServiceLifecycle
import TenantRegistry
import Tracing

/// `token-broker serve`: runs the daemon until SIGTERM.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the broker. Settings come from flags, then TOKEN_BROKER_* variables, then --config, then defaults.",
        discussion: """
            With no options it listens on 127.0.0.1:8080 (in the foreground: use a second terminal for the rest) and uses \
            the key ring in ./keys, generating an ES256 key there when the directory is empty. SIGHUP re-reads the \
            configuration, the key ring, the TLS certificate and the store's tenants and API keys (README: Health, memory \
            and reload); SIGTERM drains in-flight requests and exits 0.
            """
    )

    @Option(help: "JSON config file with settings by name (env TOKEN_BROKER_CONFIG).") var config: String?
    @Flag(help: "Create the directory of a SQLite --database that does not exist yet (the default data/ is always created).") var create = false
    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "TCP port (default 8080; 0 picks a free port).") var port: String?
    @Option(help: "Issuer URL of tokens and discovery (default http://<host>:<port>).") var issuer: String?
    @Option(help: "PEM certificate chain for native HTTPS (with --tls-key; reloaded on SIGHUP). Default: plain HTTP.") var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert (mode 0600).") var tlsKey: String?
    @Option(help: "Key ring directory (default keys).") var keysDir: String?
    @Option(help: "sqlite:PATH (default sqlite:data/token-broker.sqlite) or postgres://user:password@host:port/db.") var database: String?
    @Option(help: "Tenant domains are <tenantId>.<base-domain> (default expertflow.com).") var baseDomain: String?
    @Option(help: "Keycloak base URL (default http://localhost:8180).") var keycloakUrl: String?
    @Option(help: "Issuer of master-realm tokens (default <keycloak-url>/realms/master).") var keycloakIssuer: String?
    @Option(help: "Client id of the broker at the master realm (default token-broker).") var keycloakClientId: String?
    @Option(help: "Secret of that client, when confidential (prefer TOKEN_BROKER_KEYCLOAK_CLIENT_SECRET: flags show in ps).") var keycloakClientSecret: String?
    @Option(help: "Scope sent with the password grant (default openid).") var keycloakScope: String?
    @Option(help: "Comma-separated aud values, one of which master-realm tokens must carry (default: not checked).") var keycloakAudience: String?
    @Option(help: "Comma-separated azp values master-realm tokens must have (default: not checked).") var keycloakAzp: String?
    @Option(help: "Seconds one call to Keycloak may take, 1-120 (default 10).") var keycloakTimeout: String?
    @Option(help: "Login attempts per username per window not ended by a success, before 429; 0 disables (default 5).") var loginMaxFailuresPerUser: String?
    @Option(help: "Login attempts per client address per window that did not succeed (in flight included), before 429; 0 disables (default 20).") var loginMaxFailuresPerIp: String?
    @Option(help: "Seconds over which login attempts are counted, from a key's first (default 60).") var loginFailureWindow: String?
    @Option(help: "AES-256-GCM key (base64, 32 bytes) for what 2FA challenges hold; same on every instance (prefer the env variable).") var otpSealingKey: String?
    @Option(help: "AES-256-GCM key(s) (base64, 32 bytes; comma-separated, the sealing one first) for tenant client secrets at rest (default: <keys-dir>/secrets.key; prefer the env variable).")
    var secretsKey: String?
    @Option(help: "Seconds one OTP Manager operation may take, retries included (default 5).") var otpDeadline: String?
    @Option(help: "Calls per OTP Manager operation, first included (default 3).") var otpTries: String?
    @Option(help: "Milliseconds: base of the retry backoff, full jitter (default 100).") var otpBackoffBase: String?
    @Option(help: "Milliseconds: largest retry backoff (default 2000).") var otpBackoffCap: String?
    @Option(help: "OTP Manager calls in flight per tenant before 503 (default 8).") var otpTenantConcurrency: String?
    @Option(help: "Resends per login challenge after the first send (default 3).") var otpResendLimit: String?
    @Option(help: "Seconds between two sends of one challenge (default 30).") var otpResendInterval: String?
    @Option(help: "Token claim with the user's email (default email).") var otpEmailClaim: String?
    @Option(help: "Token claim with the user's phone number (default phone_number).") var otpPhoneClaim: String?
    @Option(help: "Send path under Otp_Manager_Url (default otp/generate).") var otpGeneratePath: String?
    @Option(help: "Verify path under Otp_Manager_Url (default otp/verify).") var otpVerifyPath: String?
    @Option(help: "OTP Manager field renames, e.g. recipient=to,otp=code.") var otpFieldNames: String?
    @Option(help: "Master-realm role that makes a caller a system admin (default admin).") var adminRole: String?
    @Option(help: "Dotted claim path to Keycloak roles (default realm_access.roles).") var rolesClaim: String?
    @Option(help: "Seconds between unknown-kid JWKS refetches of one issuer (default 10).") var jwksMinRefetchInterval: String?
    @Option(help: "Default cx-tenant token lifetime in seconds (default 300).") var tokenTtl: String?
    @Option(help: "Largest token lifetime a caller may ask for, seconds (default 3600).") var maxTokenTtl: String?
    @Option(help: "Clock skew tolerated on exp/nbf/iat, seconds, 0-300 (default 60).") var leeway: String?
    @Option(help: "Cache-Control max-age of JWKS and discovery, seconds (default 300).") var jwksMaxAge: String?
    @Option(help: "Seconds in-flight requests get after SIGTERM (default 30).") var shutdownGracePeriod: String?
    @Option(help: "Seconds a connection gets for a whole request head, and the longest a body may stall; then it is closed (default 30).")
    var requestHeadTimeout: String?
    @Option(help: "Seconds a keep-alive connection may wait idle for its next request (default 60).") var idleTimeout: String?
    @Option(help: "Tokens a tenant may mint per second on each instance unless its limits say otherwise; 0: no limit (default 1000).") var tenantMintRate: String?
    @Option(help: "OTP sends per tenant per minute, all instances on one store together, unless its limits say otherwise; 0: no limit (default 300).") var tenantOtpRate: String?
    @Option(help: "Days after deletion a deleted tenant is purged automatically, leaving a tombstone; 0: never (default 30).") var deletedTenantRetention: String?
    @Option(help: "Tenant-realm logins per tenant per minute, all instances on one store together, unless its limits say otherwise; 0: no limit (default 600).") var tenantLoginRate: String?
    @Option(help: "Completed connections the kernel may queue before they are accepted, 16-65535 (default 1024; capped by net.core.somaxconn).") var listenBacklog: String?
    @Option(help: "true: /v1/verify refuses (403) a request that names no tenant by X-Forwarded-Host or ?tenant= (default false).")
    var requireTenantHint: String?
    @Option(help: "false: the operator console at /console/ is off and answers 404 (default true).") var console: String?
    @Option(help: "Threads that serve HTTP connections, 1-256 (default 0: one per CPU core).") var eventLoopThreads: String?
    @Option(help: "trace, debug, info, notice, warning, error, critical (default info).") var logLevel: String?
    @Option(help: "text or json (default text).") var logFormat: String?
    @Option(help: "Comma-separated tenant ids whose minted tokens /metrics counts by id; all others as tenant=\"other\" (default none; SIGHUP re-reads it).") var metricsTenants: String?
    @Option(help: "Full OTLP/HTTP traces URL of an OpenTelemetry collector (e.g. http://otel-collector:4318/v1/traces); default: tracing off.") var tracingEndpoint: String?

    var flags: [String: String] {
        let pairs: [(String, String?)] = [
            ("host", host), ("port", port), ("issuer", issuer), ("keysDir", keysDir), ("tlsCert", tlsCert), ("tlsKey", tlsKey), ("database", database), ("baseDomain", baseDomain),
            ("keycloakUrl", keycloakUrl), ("keycloakIssuer", keycloakIssuer),
            ("keycloakClientId", keycloakClientId), ("keycloakClientSecret", keycloakClientSecret), ("keycloakScope", keycloakScope),
            ("keycloakAudience", keycloakAudience), ("keycloakAzp", keycloakAzp), ("keycloakTimeout", keycloakTimeout),
            ("loginMaxFailuresPerUser", loginMaxFailuresPerUser), ("loginMaxFailuresPerIp", loginMaxFailuresPerIp),
            ("loginFailureWindow", loginFailureWindow),
            ("otpSealingKey", otpSealingKey), ("secretsKey", secretsKey), ("otpDeadline", otpDeadline), ("otpTries", otpTries), ("otpBackoffBase", otpBackoffBase), ("otpBackoffCap", otpBackoffCap), ("otpTenantConcurrency", otpTenantConcurrency), ("otpResendLimit", otpResendLimit), ("otpResendInterval", otpResendInterval), ("otpEmailClaim", otpEmailClaim), ("otpPhoneClaim", otpPhoneClaim), ("otpGeneratePath", otpGeneratePath), ("otpVerifyPath", otpVerifyPath), ("otpFieldNames", otpFieldNames),
            ("adminRole", adminRole), ("rolesClaim", rolesClaim),
            ("jwksMinRefetchInterval", jwksMinRefetchInterval),
            ("tokenTtl", tokenTtl), ("maxTokenTtl", maxTokenTtl), ("leeway", leeway), ("jwksMaxAge", jwksMaxAge),
            ("shutdownGracePeriod", shutdownGracePeriod), ("requestHeadTimeout", requestHeadTimeout), ("requireTenantHint", requireTenantHint), ("console", console), ("idleTimeout", idleTimeout), ("listenBacklog", listenBacklog), ("tenantMintRate", tenantMintRate), ("tenantOtpRate", tenantOtpRate), ("tenantLoginRate", tenantLoginRate), ("deletedTenantRetention", deletedTenantRetention), ("eventLoopThreads", eventLoopThreads), ("logLevel", logLevel), ("logFormat", logFormat),
            ("metricsTenants", metricsTenants), ("tracingEndpoint", tracingEndpoint),
        ]
        return Dictionary(uniqueKeysWithValues: pairs.compactMap { key, value in value.map { (key, $0) } })
    }

    func run() async throws {
        // A file-size limit (LimitFSIZE=, ulimit -f) reached by the SQLite file must fail that write (EFBIG, answered
        // 503), not terminate the broker: SIGXFSZ's default action is to kill the process.
        signal(SIGXFSZ, SIG_IGN)
        let configuration: BrokerConfiguration
        do {
            configuration = try BrokerConfiguration.load(flags: flags, configFile: config)
        } catch {
            Self.fail("configuration error: \(error.description)")
        }
        if case .sqlite(let path) = configuration.database, !create, configuration.sources["database"] != "default" {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
                Self.fail(
                    "the directory \(directory) of the SQLite store \(path) (database from \(configuration.sources["database"] ?? "default")) does not exist: "
                        + "create it, owned by the user the broker runs as (mode 0700), or pass --create")
            }
        }
        let logLevel = LogLevelControl(configuration.logLevel)
        LogBootstrap.bootstrap(format: configuration.logFormat, level: logLevel)
        let logger = Logger(label: "token-broker")
        let keyRing: KeyRing
        do {
            keyRing = try KeyRing(directory: KeyRingDirectory(path: configuration.keysDir), bootstrap: true, logger: logger)
        } catch {
            logger.critical("cannot load the key ring", metadata: ["error": .string(error.description)])
            Self.fail("key ring error: \(error.description)")
        }
        let store: SQLTenantStore
        do {
            let sealer: SecretSealer
            do {
                sealer = try SecretsKey.sealer(configuration, logger: logger)
            } catch {
                Self.fail("secrets key error: \(error)")
            }
            store = try await SQLTenantStore.open(configuration.database, sealer: sealer, logger: logger)
        } catch {
            logger.critical("cannot open the registry store", metadata: ["error": .string(error.description)])
            Self.fail("store error: \(error.description)")
        }
        let tenants = TenantService(store: store, baseDomain: configuration.baseDomain, logger: logger)
        var tls: TLSMaterial?
        if let certificate = configuration.tlsCert, let key = configuration.tlsKey {
            do {
                tls = try TLSMaterial(certificatePath: certificate, keyPath: key)
            } catch {
                Self.fail("TLS error: \(error.description)")
            }
        }
        let tracing = configuration.tracingEndpoint.map { Self.bootstrapTracing(endpoint: $0, logger: logger) }
        let flags = self.flags
        let configFile = config
        let broker = BrokerApplication(
            configuration: configuration, keyRing: keyRing, tenants: tenants, logger: logger,
            runtime: RuntimeSettings(configuration: configuration, logLevel: logLevel),
            reloadConfiguration: { try BrokerConfiguration.load(flags: flags, configFile: configFile) }, tls: tls, tracing: tracing)
        do {
            try await broker.run()
        } catch {
            if let explained = ListenFailure.explain(error, host: configuration.host, port: configuration.port) {
                logger.critical("cannot listen", metadata: ["error": .string(explained)])
                Self.fail(explained)
            }
            logger.critical("broker stopped with an error", metadata: ["error": .string(String(describing: error))])
            Self.fail("\(error)")
        }
    }

    /// Makes swift-otel's tracer the process's tracer, exporting over OTLP/HTTP (protobuf) to `endpoint`, and returns
    /// the service that batches and exports spans. Traces only: logs and metrics keep their own outputs. The
    /// standard `OTEL_*` variables (`OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`, `OTEL_EXPORTER_OTLP_HEADERS`, ...)
    /// apply, as in every OpenTelemetry SDK.
    static func bootstrapTracing(endpoint: String, logger: Logger) -> some Service {
        // swift-otel stops the process (fatalError) on a protocol, exporter, propagator or sampler it (or this
        // build) leaves out: refuse those settings here with an error that names them. The per-signal protocol
        // variable wins over the shared one.
        let environment = ProcessInfo.processInfo.environment
        let protocolName = environment["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] != nil ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" : "OTEL_EXPORTER_OTLP_PROTOCOL"
        if let value = environment[protocolName], !["http/protobuf", "http/json"].contains(value.lowercased()) {
            fail("tracing error: \(protocolName)=\(value): traces are exported over OTLP/HTTP only (http/protobuf, the default, or http/json)")
        }
        if let exporter = environment["OTEL_TRACES_EXPORTER"], !["otlp", "none"].contains(exporter.lowercased()) {
            fail("tracing error: OTEL_TRACES_EXPORTER=\(exporter): only otlp (the default) or none")
        }
        if let propagators = environment["OTEL_PROPAGATORS"],
            let unsupported = propagators.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() })
                .first(where: { !["tracecontext", "none", ""].contains($0) })
        {
            fail("tracing error: OTEL_PROPAGATORS=\(propagators): \(unsupported) is not supported, only tracecontext (W3C traceparent, the default)")
        }
        let samplers = ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"]
        if let sampler = environment["OTEL_TRACES_SAMPLER"], !samplers.contains(sampler.lowercased()) {
            fail("tracing error: OTEL_TRACES_SAMPLER=\(sampler): use one of \(samplers.joined(separator: ", "))")
        }
        var otel = OTel.Configuration.default
        otel.serviceName = "token-broker"
        otel.logs.enabled = false
        otel.metrics.enabled = false
        otel.traces.enabled = true
        otel.traces.exporter = .otlp
        otel.traces.otlpExporter.endpoint = endpoint
        otel.traces.otlpExporter.protocol = .httpProtobuf
        otel.diagnosticLogger = .custom(logger)
        do {
            let backend = try OTel.makeTracingBackend(configuration: otel)
            InstrumentationSystem.bootstrap(backend.factory)
            // The URL may carry credentials (user:password@); the log line never does.
            var shown = URLComponents(string: endpoint)
            shown?.user = nil
            shown?.password = nil
            logger.info("tracing on", metadata: ["endpoint": .string(shown?.string ?? "-")])
            return backend.service
        } catch {
            fail("tracing error: \(error)")
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data(("token-broker: " + message + "\n").utf8))
        Foundation.exit(1)
    }
}
