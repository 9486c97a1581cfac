import Foundation
import JOSE
import Keycloak
import Logging
import OTP
import TenantRegistry
import Tokens

/// Tenant user login: the password grant at the tenant's realm, then, when the tenant asks for a second
/// factor, an OTP challenge that holds the tokens until the code is verified. The tenant's policy is read as
/// it is now: a PATCH that turned 2FA off or on applies to the next login.
struct TenantLoginService: Sendable {
    let tenants: TenantService
    let login: LoginService
    let challenges: ChallengeService
    let keycloakURL: String
    /// The operator's tenant-login limit for tenants without their own.
    let rateDefaults: TenantRateDefaults

    /// What a first login step ends in.
    enum Outcome: Sendable {
        /// No second factor: the tokens themselves.
        case tokens(OIDCTokenResponse)
        /// A code was sent: the challenge holds the tokens.
        case challenge(OTPChallenge)
    }

    /// A first login step's outcome and what it left of the tenant's quotas (nil: no limit).
    struct Answer: Sendable {
        let outcome: Outcome
        var loginQuota: EventQuota?
        var otpQuota: EventQuota?
    }

    /// Logs `credentials` in at tenant `tenantId`'s realm. The attempt passes the failed-login throttle first,
    /// then takes one of the tenant's logins this minute (shared by every instance on the store), then reaches
    /// Keycloak: a throttled attempt spends none of the tenant's logins.
    func login(tenantId: String, credentials: LoginService.Credentials, clientAddress: String?, requestId: String, logger: Logger) async throws
        -> Answer
    {
        let view = try challenges.activeTenant(tenantId)
        let limit = view.limits.loginPerMinute ?? rateDefaults.loginPerMinute
        // Past the tenant's limit: refused by a read, before the throttle or Keycloak is asked and without a write.
        if limit > 0 {
            let now = tenants.clock()
            if let full = try await tenants.store.fullWindow(Self.loginKey(tenantId), limit: limit, now: now) {
                throw LoginRefusal.tenantRateLimited(limit: limit, retryAfter: full.secondsLeft(from: now))
            }
        }
        var loginQuota: EventQuota?
        var realm: (issuer: String, client: OIDCClientCredentials)?
        let tokens = try await login.passwordGrant(credentials: credentials, throttleScope: .tenant(tenantId), clientAddress: clientAddress, logger: logger) {
            if limit > 0 {
                let now = tenants.clock()
                let quota = try await tenants.store.takeEvent(Self.loginKey(tenantId), limit: limit, window: 60, now: now)
                guard quota.taken else { throw LoginRefusal.tenantRateLimited(limit: limit, retryAfter: quota.secondsLeft(from: now)) }
                loginQuota = quota
            }
            guard let stored = try await tenants.tenant(tenantId) else { throw ChallengeError.tenantNotFound }
            let (issuer, client) = stored.realmClient(keycloakURL: keycloakURL)
            realm = (issuer, client)
            return LoginService.Target(issuer: issuer, client: client, scope: login.scope)
        }
        guard let (issuer, client) = realm else { throw ChallengeError.tenantNotFound }
        guard view.twoFA.isEnabled else { return Answer(outcome: .tokens(tokens), loginQuota: loginQuota) }
        guard let channel = view.twoFA.channelType else {
            // Never hand out tokens without the second factor a tenant asked for, even if its settings are incomplete.
            if let refresh = tokens.refreshToken { await login.endSession(issuer: issuer, client: client, refreshToken: refresh) }
            throw ChallengeError.twoFactorIncomplete
        }
        // The tokens came straight from the provider's token endpoint over our own connection (OIDC Core §3.1.3.7).
        var claims = (try? JWS.unverifiedClaims(tokens.accessToken)) ?? [:]
        if let idToken = tokens.idToken, let idClaims = try? JWS.unverifiedClaims(idToken) {
            claims.merge(idClaims) { access, _ in access }
        }
        let claimName = channel == .sms ? challenges.policy.phoneClaim : challenges.policy.emailClaim
        guard let recipient = JSONValue.object(claims).value(atPath: claimName)?.stringValue, OTPRules.isValidRecipient(recipient, channel) else {
            if let refresh = tokens.refreshToken { await login.endSession(issuer: issuer, client: client, refreshToken: refresh) }
            logger.notice("tenant login without a second-factor address", metadata: ["tenant": .string(tenantId), "claim": .string(claimName)])
            throw LoginRefusal.recipientMissing(channel: channel, claim: claimName)
        }
        let requester = ChallengeService.Requester(actor: "login:\(tenantId):\(credentials.username)", requestId: requestId, logger: logger)
        do {
            let sent = try await challenges.start(
                view: view, purpose: OTPRules.loginPurpose, recipient: recipient, heldTokens: tokens.json.serialized(), by: requester)
            return Answer(outcome: .challenge(sent.challenge), loginQuota: loginQuota, otpQuota: sent.quota)
        } catch {
            // No challenge holds the tokens (incomplete settings, the tenant's OTP limit, the OTP Manager failing):
            // the provider's session they opened ends here rather than idling until it times out.
            if let refresh = tokens.refreshToken { await login.endSession(issuer: issuer, client: client, refreshToken: refresh) }
            throw error
        }
    }

    /// The second step: the code for a login challenge; the tokens it held (JSON) once the code is right.
    func completeLogin(tenantId: String, challengeId: String, otp: String, requestId: String, logger: Logger) async throws -> [UInt8] {
        _ = try challenges.activeTenant(tenantId)
        let requester = ChallengeService.Requester(actor: "login:\(tenantId)", requestId: requestId, logger: logger)
        let challenge = try await challenges.check(tenantId: tenantId, challengeId: challengeId, otp: otp, login: true, by: requester)
        do {
            return try challenges.heldTokens(of: challenge)
        } catch {
            logger.error(
                "held tokens cannot be opened (another instance with a different --otp-sealing-key?)", metadata: ["challenge": .string(challenge.challengeId)])
            throw error
        }
    }

    /// The store key of a tenant's login counter.
    static func loginKey(_ tenantId: String) -> String { "login:" + tenantId }

    /// Sends a login challenge's code again.
    func resend(tenantId: String, challengeId: String, requestId: String, logger: Logger) async throws -> ChallengeService.Sent {
        _ = try challenges.activeTenant(tenantId)
        let requester = ChallengeService.Requester(actor: "login:\(tenantId)", requestId: requestId, logger: logger)
        return try await challenges.resend(tenantId: tenantId, challengeId: challengeId, by: requester)
    }

    /// Ends the Keycloak session of the tokens a dead login challenge held (best effort: the tokens are gone either way).
    static func endHeldSession(tenantId: String, heldTokens: [UInt8], tenants: TenantService, login: LoginService, keycloakURL: String) async {
        guard let refresh = (try? JSONParser().parseObject(heldTokens))?["refresh_token"]?.stringValue,
            let stored = try? await tenants.tenant(tenantId)
        else { return }
        let (issuer, client) = stored.realmClient(keycloakURL: keycloakURL)
        await login.endSession(issuer: issuer, client: client, refreshToken: refresh)
    }
}
