import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import JOSE
import KeyRing
import Keycloak
import Logging
import NIOCore
import NIOPosix
import OTP
import ServiceLifecycle
import TenantRegistry
import Tokens

/// The running broker: HTTP routes, the key ring, metrics, and the services that start and stop with it.
public struct BrokerApplication: Sendable {
    public let configuration: BrokerConfiguration
    public let keyRing: KeyRing
    public let tenants: TenantService
    public let metrics: BrokerMetrics
    public let shutdown: ShutdownState
    let issuer: IssuerBox
    let logger: Logger
    /// Verification state (its cache) lives as long as the broker, shared by every route that verifies.
    let verifier: TokenVerifier
    /// The HTTP server's own event loops when `--event-loop-threads` is set; nil: NIO's shared group.
    let eventLoopGroup: MultiThreadedEventLoopGroup?
    /// Readiness and lifecycle notifications to systemd (no-op outside systemd).
    public let notifier: SystemdNotifier
    /// Settings a SIGHUP re-reads (token lifetimes, log level).
    public let runtime: RuntimeSettings
    /// Reads the configuration again (flags, environment, config file); nil: SIGHUP reloads keys and registry only.
    let reloadConfiguration: (@Sendable () throws -> BrokerConfiguration)?
    /// Keycloak issuers' metadata and keys, fetched on demand and kept in memory.
    let discovery: OIDCDiscovery
    let jwks: JWKSCache
    /// Password, refresh, logout and introspection calls to Keycloak (or any OIDC provider).
    let oidc: OIDCClient
    /// Failed-login counters shared by portal and tenant logins.
    let loginThrottle: LoginThrottle
    /// Roles learnt by introspecting tokens that carry none, kept until each token's `exp`.
    let introspections = VerificationCache<[String: JSONValue]>(capacity: 10_000)
    /// Every tenant's OTP Manager, with per-tenant isolation.
    let otpClient: OTPManagerClient
    let sealingKey: [UInt8]
    /// The OpenTelemetry exporter (`--tracing-endpoint`): started first and stopped last, so the spans of requests
    /// that finish while draining are exported too. nil: no tracing middleware on the request path at all.
    let tracing: (any Service)?

    /// Assembles a broker around an already loaded key ring.
    public init(
        configuration: BrokerConfiguration, keyRing: KeyRing, tenants: TenantService, logger: Logger, metrics: BrokerMetrics = BrokerMetrics(),
        notifier: SystemdNotifier = SystemdNotifier(), runtime: RuntimeSettings? = nil,
        reloadConfiguration: (@Sendable () throws -> BrokerConfiguration)? = nil, tls: TLSMaterial? = nil, tracing: (any Service)? = nil
    ) {
        self.tracing = tracing
        self.notifier = notifier
        self.runtime = runtime ?? RuntimeSettings(configuration: configuration)
        self.reloadConfiguration = reloadConfiguration
        self.tls = tls
        // Discovery is a call to the provider like any other: it gets --keycloak-timeout (it had a fixed 5 s).
        self.discovery = OIDCDiscovery(timeout: .seconds(configuration.keycloakTimeout), logger: logger) {
            metrics.recordUpstreamDuration("keycloak", operation: "discovery", duration: $0)
        }
        self.jwks = JWKSCache(
            minimumRefetchInterval: .seconds(configuration.jwksMinRefetchInterval), timeout: .seconds(configuration.keycloakTimeout), logger: logger
        ) {
            metrics.recordUpstreamDuration("keycloak", operation: "jwks", duration: $0)
        }
        self.oidc = OIDCClient(discovery: discovery, timeout: .seconds(configuration.keycloakTimeout), logger: logger)
        self.otpClient = OTPManagerClient(settings: configuration.otpSettings, logger: logger)
        if let key = configuration.otpSealingKey {
            self.sealingKey = key
        } else {
            self.sealingKey = Crypto.randomBytes(32)
            if tenants.store.isShared {
                logger.warning("no --otp-sealing-key: tokens held for a 2FA login can be released only by the instance that started it; set the same key on every instance")
            }
        }
        self.loginThrottle = LoginThrottle(
            limits: .init(
                perUser: configuration.loginMaxFailuresPerUser, perAddress: configuration.loginMaxFailuresPerIp,
                window: Double(configuration.loginFailureWindow)),
            store: tenants.store)
        self.shutdown = ShutdownState(notifier: notifier)
        self.configuration = configuration
        self.keyRing = keyRing
        self.tenants = tenants
        self.logger = logger
        self.metrics = metrics
        let issuer = IssuerBox(configuration.issuer)
        self.issuer = issuer
        self.verifier = TokenVerifier(
            keyRing: keyRing, tenants: tenants, revocations: tenants.revocations, issuer: { issuer.current }, leeway: configuration.leeway)
        self.eventLoopGroup = configuration.eventLoopThreads > 0 ? MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoopThreads) : nil
    }

    /// The native HTTPS listener's certificate and key, when `--tls-cert` / `--tls-key` are set.
    public let tls: TLSMaterial?

    /// The issuer as currently resolved (follows the bound port when `--port 0` and no `--issuer`).
    public var currentIssuer: String { issuer.current }

    /// Mints for both the router and the mint fast path.
    var tokenIssuer: TokenIssuer {
        let issuer = self.issuer
        return TokenIssuer(keyRing: keyRing, tenants: tenants, issuer: { issuer.current }, lifetimes: runtime.lifetimes, rateDefaults: runtime.rateDefaults)
    }

    /// The REST mint's rules and answer, shared by its route and its fast path.
    var mintV1: MintV1 { MintV1(issuer: tokenIssuer, metrics: metrics, runtime: runtime) }

    /// Keycloak access tokens as callers (master realm and tenant realms).
    var keycloakCallers: KeycloakCallerVerifier {
        let metrics = self.metrics
        return KeycloakCallerVerifier(
            discovery: discovery, jwks: jwks, tenants: tenants, masterIssuer: configuration.keycloakIssuer, keycloakURL: configuration.keycloakURL,
            adminRole: configuration.adminRole, rolesClaim: configuration.rolesClaim, leeway: Double(configuration.leeway),
            audiences: configuration.keycloakAudience, authorizedParties: configuration.keycloakAzp, oidc: oidc,
            masterClient: OIDCClientCredentials(clientId: configuration.keycloakClientId, clientSecret: configuration.keycloakClientSecret),
            introspections: introspections
        ) { outcome, duration in
            metrics.recordUpstream("keycloak", operation: "introspect", outcome: outcome, duration: duration)
        }
    }

    /// Portal logins, and the password step of tenant logins.
    var loginService: LoginService {
        LoginService(
            oidc: oidc, issuer: configuration.keycloakIssuer,
            client: OIDCClientCredentials(clientId: configuration.keycloakClientId, clientSecret: configuration.keycloakClientSecret),
            scope: configuration.keycloakScope, throttle: loginThrottle, metrics: metrics, clock: tenants.clock,
            tenantLabel: { [runtime] in runtime.metricsTenantLabel($0) })
    }

    /// OTP challenges for components and tenant logins; a dead login challenge ends its held session.
    func challengeService(login: LoginService) -> ChallengeService {
        let metrics = self.metrics
        let tenants = self.tenants
        let keycloakURL = configuration.keycloakURL
        return ChallengeService(
            tenants: tenants, client: otpClient, policy: configuration.otpPolicy, sealingKey: sealingKey,
            recordUpstream: { operation, outcome, duration in
                metrics.recordUpstream("otp", operation: operation, outcome: outcome, duration: duration)
            },
            abandonLogin: { tenantId, heldTokens in
                await TenantLoginService.endHeldSession(tenantId: tenantId, heldTokens: heldTokens, tenants: tenants, login: login, keycloakURL: keycloakURL)
            },
            otpPerMinuteDefault: { [rateDefaults = runtime.rateDefaults] in rateDefaults.otpPerMinute })
    }

    /// Every route, behind the observability middleware.
    public func buildRouter() -> Router<BrokerRequestContext> {
        let router = Router(context: BrokerRequestContext.self)
        if tracing != nil {
            // Outermost, so the span covers the whole request and sees the status the next middleware answers.
            router.add(middleware: RequestTracingMiddleware())
        }
        let runtime = self.runtime
        if configuration.console { router.add(middleware: ConsoleHeadersMiddleware()) }
        router.add(
            middleware: RequestObservabilityMiddleware(
                metrics: metrics, tracing: tracing != nil, tenantLabel: { runtime.metricsTenantLabel($0) }))
        let authentication = CallerAuthentication(service: tenants, verifier: verifier, keycloak: keycloakCallers)
        router.add(middleware: CallerAuthenticationMiddleware(authentication: authentication))
        let issuer = self.issuer
        DiscoveryRoutes(keyRing: keyRing, issuer: { issuer.current }, maxAge: configuration.jwksMaxAge).addRoutes(to: router)
        KeyRingRoutes(keyRing: keyRing).addRoutes(to: router)
        if configuration.console { ConsoleRoutes().addRoutes(to: router) }
        HealthRoutes(
            checks: [KeyRingReadiness(keyRing: keyRing), StoreReadiness(store: tenants.store)], shutdown: shutdown, metrics: metrics,
            keyRing: keyRing, jwks: jwks
        ).addRoutes(to: router)
        TenantRoutes(service: tenants).addRoutes(to: router)
        RegistryRoutes(service: tenants).addRoutes(to: router)
        SubtenantRoutes(service: tenants).addRoutes(to: router)
        DeprovisioningRoutes(service: tenants).addRoutes(to: router)
        TokenRoutes(mint: mintV1, authentication: authentication).addRoutes(to: router)
        let login = loginService
        LoginRoutes(login: login).addRoutes(to: router)
        let challenges = challengeService(login: login)
        OTPRoutes(challenges: challenges).addRoutes(to: router)
        TenantLoginRoutes(logins: TenantLoginService(
            tenants: tenants, login: login, challenges: challenges, keycloakURL: configuration.keycloakURL, rateDefaults: runtime.rateDefaults))
            .addRoutes(to: router)
        VerifyRoutes(
            verifier: verifier, service: tenants, authentication: authentication, metrics: metrics, requireTenantHint: configuration.requireTenantHint
        ).addRoutes(to: router)
        return router
    }

    /// Builds the Hummingbird application on `router` (default: `buildRouter()`); `onListening` receives the bound port.
    /// `fastPaths`: cached forward-auth successes and API-key mints are answered on the event loop
    /// (`ForwardAuthFastPath`, `MintFastPath`); false only for tests that compare them with the router.
    public func buildHTTPServer(
        router: Router<BrokerRequestContext>? = nil, fastPaths: Bool = true,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let configuration = self.configuration
        let issuer = self.issuer
        let logger = self.logger
        let notifier = self.notifier
        let verify = fastPaths ? ForwardAuthFastPath(
            verifier: verifier, metrics: metrics, logger: logger, tracing: tracing != nil, requireTenantHint: configuration.requireTenantHint) : nil
        let mint = fastPaths
            ? MintFastPath(mint: mintV1, apiKeys: tenants.apiKeys, metrics: metrics, logger: logger, tracing: tracing != nil)
            : nil
        let metrics = self.metrics
        let http1 = HTTPServerBuilder { responder in
            BrokerHTTP1Channel(
                base: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: .seconds(Int64(configuration.idleTimeout)))),
                verify: verify, mint: mint, requestHeadTimeout: .seconds(Int64(configuration.requestHeadTimeout)), metrics: metrics)
        }
        var server = http1
        if let tls {
            // Building the TLS channel cannot fail here: the material was validated when it was loaded.
            server = (try? HTTPServerBuilder.tls(http1, tlsConfiguration: tls.serverConfiguration())) ?? http1
        }
        return Application(
            router: router ?? buildRouter(), server: server,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: nil, backlog: configuration.listenBacklog),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                if !configuration.issuerIsExplicit {
                    issuer.set(BrokerConfiguration.defaultIssuer(host: configuration.host, port: port, tls: configuration.tlsCert != nil))
                }
                logger.notice(
                    "token-broker listening",
                    metadata: ["host": .string(configuration.host), "port": .stringConvertible(port), "issuer": .string(issuer.current)])
                // The store is migrated and loaded and the key ring is loaded before the server starts: ready.
                notifier.ready(status: "listening on \(configuration.host):\(port)")
                await onListening(port)
            },
            eventLoopGroupProvider: eventLoopGroup.map { .shared($0) } ?? .singleton,
            logger: logger
        )
    }

    /// The services that make up the broker, in start order; shutdown runs in reverse, so readiness flips first
    /// and the HTTP server drains last.
    public func makeServiceGroup(
        router: Router<BrokerRequestContext>? = nil, onListening: @escaping @Sendable (Int) async -> Void = { _ in },
        onReload: @escaping @Sendable (Bool) -> Void = { _ in }
    ) -> ServiceGroup {
        let server = buildHTTPServer(router: router, onListening: onListening)
        let reloader = SignalReloadService(
            keyRing: keyRing, tenants: tenants, metrics: metrics, notifier: notifier, logger: logger, onReload: onReload, tls: tls,
            configuration: ConfigurationReloader(current: configuration, runtime: runtime, load: reloadConfiguration))
        let sync = TenantSyncService(service: tenants, reloadInterval: .seconds(30), logger: logger)
        var groupConfiguration = ServiceGroupConfiguration(
            services: (tracing.map { [ServiceGroupConfiguration.ServiceConfiguration(service: $0)] } ?? []) + [
                // The store before the server: shutdown runs in reverse, so it closes after the server has drained.
                .init(service: ImpatientShutdownService(logger: logger)), .init(service: tenants.store), .init(service: server), .init(service: reloader), .init(service: sync), .init(service: WatchdogService(notifier: notifier)),
                .init(service: JWKSRefreshService(cache: jwks)), .init(service: ChallengePurgeService(tenants: tenants, logger: logger)),
                .init(service: RetentionService(tenants: tenants, retentionDays: configuration.deletedTenantRetention, logger: logger)),
                .init(service: shutdown),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(configuration.shutdownGracePeriod)
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        return ServiceGroup(configuration: groupConfiguration)
    }

    /// Migrates the store and loads every tenant into memory: the broker serves nothing before this succeeds.
    /// Bounded, so an unreachable database stops start-up with an error instead of hanging.
    public func prepare(timeout: Duration = .seconds(20)) async throws {
        let tenants = self.tenants
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                // One connection first, outside the pool: a wrong password or database is named, not timed out.
                try await tenants.store.checkConnection()
                try await tenants.store.migrate()
                let counts = try await tenants.store.sealSecrets()
                if counts.sealed + counts.resealed > 0 {
                    logger.notice(
                        "tenant client secrets sealed under the current secrets key",
                        metadata: ["plaintext": .stringConvertible(counts.sealed), "olderKey": .stringConvertible(counts.resealed)])
                }
                try await tenants.reloadAll()
                return true
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return false
            }
            let finished = try await group.next()!
            group.cancelAll()
            if !finished { throw StoreError.unavailable("\(tenants.store.location) did not answer within \(timeout)") }
        }
        logger.info("tenant registry ready", metadata: ["store": .string("\(tenants.store.location)"), "tenants": .stringConvertible(tenants.directory.current.byId.count)])
    }

    /// Runs until SIGTERM/SIGINT: then stops accepting, lets in-flight requests finish within the grace period, and returns.
    /// The store is a service of the group and closes after the server has drained; it is closed here only when
    /// start-up fails before the group runs.
    public func run() async throws {
        do {
            try await prepare()
        } catch {
            await tenants.store.close()
            try? await eventLoopGroup?.shutdownGracefully()
            throw error
        }
        do {
            try await makeServiceGroup().run()
        } catch {
            try? await eventLoopGroup?.shutdownGracefully()
            throw error
        }
        try? await eventLoopGroup?.shutdownGracefully()
        logger.notice("token-broker stopped")
    }
}
