import Logging
import Synchronization

/// The settings a SIGHUP may change without a restart: token lifetimes, the log level and the tenants
/// labelled in metrics. Read on every mint (atomics, and one short lock for the metrics label); written only
/// by a reload.
public final class RuntimeSettings: Sendable {
    private let tokenTTLValue: Atomic<Int>
    private let maxTokenTTLValue: Atomic<Int>
    private let metricsTenants: Mutex<Set<String>>
    /// The level every log handler made by `ReloadableLogHandler` follows.
    public let logLevel: LogLevelControl

    public init(configuration: BrokerConfiguration, logLevel: LogLevelControl = LogLevelControl(.info)) {
        tokenTTLValue = Atomic(configuration.tokenTTL)
        maxTokenTTLValue = Atomic(configuration.maxTokenTTL)
        metricsTenants = Mutex(configuration.metricsTenants)
        self.logLevel = logLevel
        logLevel.set(configuration.logLevel)
    }

    public var tokenTTL: Int { tokenTTLValue.load(ordering: .relaxed) }
    public var maxTokenTTL: Int { maxTokenTTLValue.load(ordering: .relaxed) }

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
        tokenTTLValue.store(new.tokenTTL, ordering: .relaxed)
        maxTokenTTLValue.store(new.maxTokenTTL, ordering: .relaxed)
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
    static let reloadable: Set<String> = ["tokenTtl", "maxTokenTtl", "logLevel", "metricsTenants"]
}

/// A log level shared by reference, so every copy of a handler follows a reload.
public final class LogLevelControl: Sendable {
    private let raw: Atomic<Int>
    static let levels = Logger.Level.allCases

    public init(_ level: Logger.Level) { raw = Atomic(Self.levels.firstIndex(of: level) ?? 2) }
    public var level: Logger.Level { Self.levels[raw.load(ordering: .relaxed)] }
    public func set(_ level: Logger.Level) { raw.store(Self.levels.firstIndex(of: level) ?? 2, ordering: .relaxed) }
}

/// Wraps a handler so that its level is the shared `LogLevelControl`'s (a per-logger override is ignored:
/// the operator's level wins).
///
/// Logger metadata set on the wrapper (the request id, once per request) is kept here and handed to the
/// inner handler only when a line is written: the inner handler is never mutated after it is made. That
/// keeps a metadata change cheap on the hot path; swift-log's `StreamLogHandler` re-renders all of its
/// metadata on every change, which cost more than the rest of a cached `/v1/verify`.
public struct ReloadableLogHandler: LogHandler {
    let inner: any LogHandler
    let control: LogLevelControl
    public var metadata: Logger.Metadata = [:]

    public init(_ inner: any LogHandler, control: LogLevelControl) {
        self.inner = inner
        self.control = control
    }

    public var logLevel: Logger.Level {
        get { control.level }
        set {}
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] ?? inner[metadataKey: key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        guard !metadata.isEmpty else { return inner.log(event: event) }
        var event = event
        // The line's own metadata wins over the logger's, as swift-log's handlers merge them.
        event.metadata = metadata.merging(event.metadata ?? [:]) { _, line in line }
        inner.log(event: event)
    }
}
