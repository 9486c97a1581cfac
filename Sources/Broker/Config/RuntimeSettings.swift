import Logging
import Synchronization
import Tokens

/// The settings a SIGHUP may change without a restart: token lifetimes, the log level and the tenants
/// labelled in metrics. Read on every mint (atomics, and one short lock for the metrics label); written only
/// by a reload.
public final class RuntimeSettings: Sendable {
    /// Token lifetimes, read by the issuer on every mint.
    package let lifetimes: TokenLifetimes
    private let metricsTenants: Mutex<Set<String>>
    /// The level every log handler made by `ReloadableLogHandler` follows.
    public let logLevel: LogLevelControl
    /// The operator's default tenant limits, read by the issuer on every mint and by the OTP and login limits.
    package let rateDefaults: TenantRateDefaults

    public init(configuration: BrokerConfiguration, logLevel: LogLevelControl = LogLevelControl(.info)) {
        lifetimes = TokenLifetimes(default: configuration.tokenTTL, maximum: configuration.maxTokenTTL)
        metricsTenants = Mutex(configuration.metricsTenants)
        rateDefaults = TenantRateDefaults(
            mintPerSecond: configuration.tenantMintRate, otpPerMinute: configuration.tenantOtpRate, loginPerMinute: configuration.tenantLoginRate)
        self.logLevel = logLevel
        logLevel.set(configuration.logLevel)
    }

    public var tokenTTL: Int { lifetimes.defaultTTL }
    public var maxTokenTTL: Int { lifetimes.maxTTL }

    /// The `tenant` label of a tenant's metrics: its id when `--metrics-tenants` lists it, `other` otherwise.
    public func metricsTenantLabel(_ tenantId: String) -> String {
        metricsTenants.withLock { $0.contains(tenantId) } ? tenantId : BrokerConfiguration.otherTenantsLabel
    }

    /// Applies the reloadable part of `new`; returns the names of settings that changed but need a restart.
    func apply(_ new: BrokerConfiguration, replacing old: BrokerConfiguration) -> (changed: [String], needRestart: [String]) {
        var changed = [String]()
        if new.tokenTTL != tokenTTL { changed.append("tokenTtl") }
        if new.maxTokenTTL != maxTokenTTL { changed.append("maxTokenTtl") }
        if new.logLevel != logLevel.level { changed.append("logLevel") }
        if new.tenantMintRate != rateDefaults.mintPerSecond { changed.append("tenantMintRate") }
        if new.tenantOtpRate != rateDefaults.otpPerMinute { changed.append("tenantOtpRate") }
        if new.tenantLoginRate != rateDefaults.loginPerMinute { changed.append("tenantLoginRate") }
        lifetimes.set(default: new.tokenTTL, maximum: new.maxTokenTTL)
        rateDefaults.set(mintPerSecond: new.tenantMintRate, otpPerMinute: new.tenantOtpRate, loginPerMinute: new.tenantLoginRate)
        logLevel.set(new.logLevel)
        // A tenant dropped from the list keeps its series at the last value until a restart; new mints count as `other`.
        let tenantsChanged = metricsTenants.withLock { current in
            defer { current = new.metricsTenants }
            return current != new.metricsTenants
        }
        if tenantsChanged { changed.append("metricsTenants") }
        var restart = [String]()
        // Every other setting applies only at start: any of them resolved differently is named.
        for setting in Setting.all where !Self.reloadable.contains(setting.key) {
            if new.resolvedSettings[setting.key] != old.resolvedSettings[setting.key] { restart.append(setting.key) }
        }
        return (changed, restart)
    }

    /// The settings a SIGHUP applies at once.
    static let reloadable: Set<String> = [
        "tokenTtl", "maxTokenTtl", "logLevel", "metricsTenants", "tenantMintRate", "tenantOtpRate", "tenantLoginRate",
    ]
}
