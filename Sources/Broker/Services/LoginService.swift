import Foundation
import Keycloak
import Logging

/// Password, refresh and logout calls to the identity provider behind the broker's failed-login throttle,
/// counted and timed; the provider's refusals are thrown as `OIDCFailure` (mapped in `ErrorMapping`) after the
/// reason is logged. Portal login uses the master realm's client; tenant login passes its realm's.
struct LoginService: Sendable {
    let oidc: OIDCClient
    /// The master realm (portal login).
    let issuer: String
    let client: OIDCClientCredentials
    let scope: String
    let throttle: LoginThrottle
    let metrics: BrokerMetrics
    let clock: @Sendable () -> Date
    /// A tenant id as a metric label.
    var tenantLabel: @Sendable (String) -> String = { _ in "other" }

    /// A username and password as a login body carries them.
    struct Credentials: Sendable {
        let username: String
        let password: String
    }

    /// Where a password grant goes: the realm's issuer, the client, the scope.
    struct Target: Sendable {
        let issuer: String
        let client: OIDCClientCredentials
        let scope: String?
    }

    /// A password grant behind the throttle: refused (`LoginRefusal.throttled`) before the provider is asked when
    /// the username (in `throttleScope`) or the client address has no attempts left in its window. `admit` runs
    /// once the throttle let the attempt through and before the provider is asked (a tenant's login limit, then
    /// the tenant's realm and client): if it throws, the attempt is given back to the throttle and the error
    /// thrown. A wrong password keeps its places; a right one (Keycloak's "not fully set up" included: it
    /// says so only after the password was right; "disabled" comes before the password is checked, and counts)
    /// clears the username's; an attempt the
    /// provider did not judge (unreachable, 5xx, a refusal of the broker's client) gives both back.
    func passwordGrant(
        credentials: Credentials, throttleScope: LoginThrottle.Scope, clientAddress: String?, logger: Logger,
        admit: () async throws -> Target
    ) async throws -> OIDCTokenResponse {
        let userKey = LoginThrottle.userKey(throttleScope, credentials.username)
        let reservation: LoginThrottle.Reservation
        do {
            reservation = try await throttle.reserve(user: userKey, address: clientAddress, now: clock())
        } catch LoginRefusal.throttled(let wait) {
            logger.notice("login throttled", metadata: ["username": .string(credentials.username), "retry_after": .stringConvertible(wait)])
            metrics.recordUpstream("keycloak", operation: "password", outcome: "throttled", duration: nil)
            let tenant: String
            switch throttleScope {
            case .portal: tenant = "master"
            case .tenant(let tenantId): tenant = tenantLabel(tenantId)
            }
            metrics.recordRateLimited(route: throttleScope.route, limit: "failed_login", tenant: tenant)
            throw LoginRefusal.throttled(retryAfter: wait)
        }
        let target: Target
        do {
            target = try await admit()
        } catch {
            await throttle.release(reservation, logger: logger)
            throw error
        }
        let start = ContinuousClock.now
        do {
            let tokens = try await oidc.password(
                issuer: target.issuer, client: target.client, username: credentials.username, password: credentials.password, scope: target.scope)
            await throttle.succeeded(reservation, logger: logger)
            metrics.recordUpstream("keycloak", operation: "password", outcome: "success", duration: ContinuousClock.now - start)
            logger.info("password grant succeeded", metadata: ["username": .string(credentials.username), "issuer": .string(target.issuer)])
            return tokens
        } catch {
            let duration = ContinuousClock.now - start
            switch error {
            case .invalidCredentials, .accountDisabled: break
            case .accountSetupRequired: await throttle.succeeded(reservation, logger: logger)
            case .clientRefused, .unavailable, .unsupported, .invalidRefreshToken: await throttle.release(reservation, logger: logger)
            }
            throw failed(error, operation: "password", duration: duration, logger: logger, username: credentials.username)
        }
    }

    /// Portal login: a password grant at the master realm.
    func login(_ credentials: Credentials, clientAddress: String?, logger: Logger) async throws -> OIDCTokenResponse {
        try await passwordGrant(credentials: credentials, throttleScope: .portal, clientAddress: clientAddress, logger: logger) {
            Target(issuer: issuer, client: client, scope: scope)
        }
    }

    /// New tokens for a master-realm refresh token.
    func refresh(_ refreshToken: String, logger: Logger) async throws(OIDCFailure) -> OIDCTokenResponse {
        let start = ContinuousClock.now
        do {
            let tokens = try await oidc.refresh(issuer: issuer, client: client, refreshToken: refreshToken)
            metrics.recordUpstream("keycloak", operation: "refresh", outcome: "success", duration: ContinuousClock.now - start)
            return tokens
        } catch {
            throw failed(error, operation: "refresh", duration: ContinuousClock.now - start, logger: logger)
        }
    }

    /// Ends the master-realm session of a refresh token.
    func logout(_ refreshToken: String, logger: Logger) async throws(OIDCFailure) {
        let start = ContinuousClock.now
        do {
            try await oidc.logout(issuer: issuer, client: client, refreshToken: refreshToken)
            metrics.recordUpstream("keycloak", operation: "logout", outcome: "success", duration: ContinuousClock.now - start)
        } catch {
            throw failed(error, operation: "logout", duration: ContinuousClock.now - start, logger: logger)
        }
    }

    /// Ends a session the broker holds tokens of and will not hand out (a tenant login whose second factor
    /// cannot or did not happen). Best effort, never an error to the caller; counted and timed like every
    /// other Keycloak call.
    func endSession(issuer: String, client: OIDCClientCredentials, refreshToken: String) async {
        let start = ContinuousClock.now
        let outcome: String
        do {
            try await oidc.logout(issuer: issuer, client: client, refreshToken: refreshToken)
            outcome = "success"
        } catch {
            switch error {
            case .unavailable, .unsupported: outcome = "error"
            default: outcome = "refused"
            }
        }
        metrics.recordUpstream("keycloak", operation: "logout", outcome: outcome, duration: ContinuousClock.now - start)
    }

    /// A provider failure that took `duration`, counted and logged (the reason goes to the log, never to the client).
    func failed(_ failure: OIDCFailure, operation: String, duration: Duration, logger: Logger, username: String? = nil) -> OIDCFailure {
        var metadata: Logger.Metadata = ["operation": .string(operation), "reason": .string(failure.logDescription)]
        if let username { metadata["username"] = .string(username) }
        let outcome: String
        switch failure {
        case .invalidCredentials, .accountDisabled, .accountSetupRequired, .invalidRefreshToken: outcome = "refused"
        case .unavailable, .unsupported, .clientRefused: outcome = "error"
        }
        metrics.recordUpstream("keycloak", operation: operation, outcome: outcome, duration: duration)
        if outcome == "error" {
            logger.error("identity provider call failed", metadata: metadata)
        } else {
            logger.notice("identity provider refused", metadata: metadata)
        }
        return failure
    }
}
