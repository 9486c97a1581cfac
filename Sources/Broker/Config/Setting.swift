/// One configuration setting: its key in the config file, its flag, its environment variable and its default.
public struct Setting: Sendable {
    /// Key in the JSON config file (camelCase); the flag and variable derive from it.
    public let key: String
    /// Default as text; nil means "derived" (see `help`).
    public let defaultValue: String?
    /// One line for `--help`, the README and the example config.
    public let help: String
    /// Whether the value is a secret (never logged).
    public let isSecret: Bool

    init(_ key: String, _ defaultValue: String?, _ help: String, secret: Bool = false) {
        self.key = key
        self.defaultValue = defaultValue
        self.help = help
        self.isSecret = secret
    }

    /// `--keys-dir` for `keysDir`.
    public var flag: String {
        var out = "--"
        for char in key {
            if char.isUppercase {
                out += "-" + char.lowercased()
            } else {
                out.append(char)
            }
        }
        return out
    }

    /// `TOKEN_BROKER_KEYS_DIR` for `keysDir`.
    public var environmentVariable: String {
        "TOKEN_BROKER_" + flag.dropFirst(2).uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// Every setting the broker understands, in the order the docs list them.
    public static let all: [Setting] = [
        Setting("host", "127.0.0.1", "address to listen on"),
        Setting("port", "8080", "TCP port to listen on (0 picks a free port)"),
        Setting("issuer", nil, "issuer URL of minted tokens and discovery; default http://<host>:<port>"),
        Setting("tlsCert", nil, "PEM certificate chain for a native HTTPS listener (with --tls-key; reloaded on SIGHUP); default: plain HTTP behind a TLS-terminating proxy"),
        Setting("tlsKey", nil, "PEM private key of --tls-cert, mode 0600"),
        Setting("keysDir", "keys", "key ring directory (PKCS#8 PEM files + keyring.json)"),
        Setting("database", "sqlite:data/token-broker.sqlite", "sqlite:PATH (one instance) or postgres://user:password@host:port/db (several)", secret: true),
        Setting("baseDomain", "expertflow.com", "tenant domains default to <tenantId>.<baseDomain>"),
        Setting("keycloakUrl", "http://localhost:8180", "Keycloak base URL; tenant realm issuers default to <keycloakUrl>/realms/<realm>"),
        Setting("keycloakIssuer", nil, "issuer of master-realm (system admin) tokens; default <keycloakUrl>/realms/master"),
        Setting("keycloakClientId", "token-broker", "client id of the broker at the master realm (password, refresh, logout, introspection)"),
        Setting("keycloakClientSecret", nil, "secret of that client when it is confidential (needed for introspection of lightweight tokens)", secret: true),
        Setting("keycloakScope", "openid", "scope sent with the password grant"),
        Setting("keycloakAudience", nil, "when set: master-realm tokens must list one of these comma-separated values in aud"),
        Setting("keycloakAzp", nil, "when set: master-realm tokens must have one of these comma-separated clients as azp"),
        Setting("keycloakTimeout", "10", "seconds one call to Keycloak (or another OIDC provider) may take (1-120)"),
        Setting("loginMaxFailuresPerUser", "5", "login attempts per username per window not ended by a success, before 429 (0 disables)"),
        Setting("loginMaxFailuresPerIp", "20", "login attempts per client address per window that did not succeed (in flight ones included), before 429 (0 disables)"),
        Setting("loginFailureWindow", "60", "seconds over which login attempts are counted, from a key's first attempt; in the store, shared by every instance on it (1-86400)"),
        Setting("otpSealingKey", nil, "base64 of 32 random bytes: AES-256-GCM key for tokens and recipients held during a 2FA challenge; the same on every instance (default: random per process)", secret: true),
        Setting("secretsKey", nil, "base64 of 32 random bytes: the AES-256-GCM key that seals tenant client secrets in the store; several, comma-separated, for rotation (the first seals, all open; older ones are resealed at start-up); the same on every instance (default: the file secrets.key in --keys-dir, created on first start)", secret: true),
        Setting("otpDeadline", "5", "seconds one OTP Manager operation may take, retries included (1-60)"),
        Setting("otpTries", "3", "calls per OTP Manager operation, the first included (1-10)"),
        Setting("otpBackoffBase", "100", "milliseconds: base of the exponential backoff between OTP Manager retries (full jitter)"),
        Setting("otpBackoffCap", "2000", "milliseconds: the largest backoff between OTP Manager retries"),
        Setting("otpTenantConcurrency", "8", "OTP Manager calls in flight per tenant; more are refused with 503 (1-1000)"),
        Setting("otpResendLimit", "3", "resends allowed per login challenge after the first send (0-10)"),
        Setting("otpResendInterval", "30", "seconds between two sends of one challenge (0-3600)"),
        Setting("otpEmailClaim", "email", "claim of the tenant realm's token holding the user's email (Email channel)"),
        Setting("otpPhoneClaim", "phone_number", "claim of the tenant realm's token holding the user's phone number (SMS channel)"),
        Setting("otpGeneratePath", "otp/generate", "path of the send call under each tenant's Otp_Manager_Url"),
        Setting("otpVerifyPath", "otp/verify", "path of the verify call under each tenant's Otp_Manager_Url"),
        Setting("otpFieldNames", nil, "renames of OTP Manager JSON fields, e.g. recipient=to,otp=code (default: the contract's names)"),
        Setting("adminRole", "admin", "role that makes a master-realm token a system admin"),
        Setting("rolesClaim", "realm_access.roles", "dotted claim path to the roles of Keycloak tokens (array or space-separated string)"),
        Setting("jwksMinRefetchInterval", "10", "seconds between JWKS refetches of one issuer triggered by unknown kids (0-3600)"),
        Setting("tokenTtl", "300", "default lifetime of cx-tenant tokens, seconds"),
        Setting("maxTokenTtl", "3600", "largest lifetime a caller may ask for, seconds"),
        Setting("leeway", "60", "clock skew tolerated on exp/nbf/iat, seconds (0-300)"),
        Setting("jwksMaxAge", "300", "Cache-Control max-age of the JWKS and discovery documents, seconds"),
        Setting("requireTenantHint", "false", "true: /v1/verify answers 403 to a request that names no tenant (X-Forwarded-Host or ?tenant=), so a gateway route that forgets the header cannot let any tenant's token through"),
        Setting("console", "true", "false: the operator console at /console/ is off (404); the API it uses stays"),
        Setting("requestHeadTimeout", "30", "seconds a connection gets to send a whole request head (from its first byte, or from opening), and the longest a request body may stall; then it is closed (1-3600)"),
        Setting("idleTimeout", "60", "seconds a keep-alive connection may sit idle between requests before it is closed (1-86400)"),
        Setting("tenantMintRate", "1000", "tokens a tenant may mint per second on each instance, for tenants whose limits.mintPerSecond is null (0: no limit; SIGHUP re-reads it)"),
        Setting("tenantOtpRate", "300", "OTP sends per tenant per minute across every instance on one store, for tenants whose limits.otpPerMinute is null (0: no limit; SIGHUP re-reads it)"),
        Setting("deletedTenantRetention", "30", "days after its deletion a deleted tenant is purged automatically, leaving a tombstone (0: never; 0-36500)"),
        Setting("tenantLoginRate", "600", "tenant-realm login attempts per tenant per minute across every instance on one store, for tenants whose limits.loginPerMinute is null (0: no limit; SIGHUP re-reads it)"),
        Setting("listenBacklog", "1024", "connections the kernel may hold completed but not yet accepted (16-65535; the kernel caps it at net.core.somaxconn); a burst past it waits for SYN retransmits, a second or more"),
        Setting("shutdownGracePeriod", "30", "seconds in-flight requests get to finish after SIGTERM"),
        Setting("eventLoopThreads", "0", "threads that serve HTTP connections (1-256); 0: one per CPU core"),
        Setting("logLevel", "info", "trace, debug, info, notice, warning, error or critical"),
        Setting("logFormat", "text", "text, or json for production"),
        Setting("tracingEndpoint", nil, "full OTLP/HTTP traces URL of an OpenTelemetry collector, e.g. http://otel-collector:4318/v1/traces; set: a span per request and per upstream call is exported, OTEL_* variables (sampler, service name, headers) apply (default: tracing off)"),
        Setting("metricsTenants", nil, "comma-separated tenant ids whose minted tokens are counted under their own tenant label in /metrics; all others as tenant=\"other\" (default: none)"),
    ]

    /// Looks a setting up by file key.
    public static func named(_ key: String) -> Setting? {
        all.first { $0.key == key }
    }
}
