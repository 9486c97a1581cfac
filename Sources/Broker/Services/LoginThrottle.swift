import Foundation
import TenantRegistry

/// Broker-side throttling of password logins: failures are counted per username and per client address in
/// the store (`SQLTenantStore.countEvent`), so every instance on one PostgreSQL counts against the same
/// number and an attacker behind a load balancer gets no more attempts than against one instance. A window of
/// `window` seconds begins at a key's first counted failure; once a key has `limit` failures in it, logins for
/// the key are refused with 429 until the window ends. Keycloak's own brute-force detection is off by default
/// and, when on, looks exactly like a wrong password, so the broker protects users and Keycloak itself.
///
/// Only failures write (a refused login only reads), and a store that cannot be reached refuses the login
/// (503) rather than letting unthrottled guesses through.
final class LoginThrottle: Sendable {
    struct Limits: Sendable {
        /// Failures per username per window; 0 disables the check.
        var perUser: Int
        /// Failures per client address per window; 0 disables the check.
        var perAddress: Int
        var window: Double
    }

    let limits: Limits
    let store: SQLTenantStore

    init(limits: Limits, store: SQLTenantStore) {
        self.limits = limits
        self.store = store
    }

    static func userKey(_ scope: String, _ username: String) -> String { "lf:u:\(scope):\(username.lowercased())" }
    static func addressKey(_ address: String) -> String { "lf:a:\(address)" }

    /// Seconds until a login for these keys may be tried again, or nil when it may be tried now.
    func retryAfter(user: String, address: String?, now: Date) async throws(StoreError) -> Int? {
        var wait: Double = 0
        for (key, limit) in keys(user: user, address: address) where limit > 0 {
            if let (count, ends) = try await store.eventCount(key, now: now), count >= limit { wait = max(wait, ends.timeIntervalSince(now)) }
        }
        return wait > 0 ? max(1, Int(wait.rounded(.up))) : nil
    }

    /// Counts a failure for the username and the address. A store failure here is logged by the store's caller
    /// and not surfaced: the login has already failed for its own reason.
    func recordFailure(user: String, address: String?, now: Date) async {
        for (key, limit) in keys(user: user, address: address) where limit > 0 {
            _ = try? await store.countEvent(key, window: Int(limits.window.rounded(.up)), now: now)
        }
    }

    /// A successful login clears the username's failures (not the address's: one good account must not
    /// reset a sprayer's budget).
    func recordSuccess(user: String) async {
        guard limits.perUser > 0 else { return }
        try? await store.clearEvents(user)
    }

    private func keys(user: String, address: String?) -> [(String, Int)] {
        var keys = [(user, limits.perUser)]
        if let address { keys.append((Self.addressKey(address), limits.perAddress)) }
        return keys
    }
}
