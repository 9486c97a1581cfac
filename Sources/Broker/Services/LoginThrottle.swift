import Foundation
import Logging
import TenantRegistry

/// Broker-side throttling of password logins per username and per client address, in the store's counters
/// (`SQLTenantStore.takeEvent`), so every instance on one PostgreSQL counts against the same number and an
/// attacker behind a load balancer gets no more attempts than against one instance. Keycloak's own brute-force
/// detection is off by default and, when on, looks exactly like a wrong password, so the broker protects users
/// and Keycloak itself.
///
/// An attempt takes its place in the username's and the address's windows before the provider is asked (one
/// atomic conditional upsert each), so guesses sent in parallel cannot all pass a check made before any of them
/// failed: at most `limit` attempts per key per window reach the provider unless some succeed. A failure keeps
/// its place; a success clears the username's count and gives the address's place back; an attempt the
/// provider never judged (it was down, the tenant's limit refused the login) gives both back. A window of
/// `window` seconds begins at a key's first attempt. A store that cannot be reached refuses the login (503)
/// rather than letting unthrottled guesses through.
final class LoginThrottle: Sendable {
    struct Limits: Sendable {
        /// Failures per username per window; 0 disables the check.
        var perUser: Int
        /// Failures per client address per window; 0 disables the check.
        var perAddress: Int
        var window: Double
    }

    /// The places one attempt took: given back or kept once the provider has answered.
    struct Reservation: Sendable {
        fileprivate let user: (key: String, quota: EventQuota)?
        fileprivate let address: (key: String, quota: EventQuota)?
    }

    let limits: Limits
    let store: SQLTenantStore

    init(limits: Limits, store: SQLTenantStore) {
        self.limits = limits
        self.store = store
    }

    static func userKey(_ scope: String, _ username: String) -> String { "lf:u:\(scope):\(username.lowercased())" }
    static func addressKey(_ address: String) -> String { "lf:a:\(address)" }

    /// Takes this attempt's places for `user` (a `userKey`) and the client address. Throws
    /// `LoginRefusal.throttled` when either window is full (nothing stays taken then), `StoreError` when the
    /// store cannot count.
    func reserve(user: String, address: String?, now: Date) async throws -> Reservation {
        let window = Int(limits.window.rounded(.up))
        var takenUser: (key: String, quota: EventQuota)?
        if limits.perUser > 0 {
            let quota = try await store.takeEvent(user, limit: limits.perUser, window: window, now: now)
            guard quota.taken else { throw LoginRefusal.throttled(retryAfter: quota.secondsLeft(from: now)) }
            takenUser = (user, quota)
        }
        var takenAddress: (key: String, quota: EventQuota)?
        if limits.perAddress > 0, let address {
            let key = Self.addressKey(address)
            let quota: EventQuota
            do {
                quota = try await store.takeEvent(key, limit: limits.perAddress, window: window, now: now)
            } catch {
                if let takenUser { try? await store.giveBackEvent(takenUser.key, takenUser.quota) }
                throw error
            }
            guard quota.taken else {
                if let takenUser { try? await store.giveBackEvent(takenUser.key, takenUser.quota) }
                throw LoginRefusal.throttled(retryAfter: quota.secondsLeft(from: now))
            }
            takenAddress = (key, quota)
        }
        return Reservation(user: takenUser, address: takenAddress)
    }

    /// The provider accepted the password: the username's failures are forgotten, the address's place is given
    /// back (one good account must not reset a sprayer's budget, nor spend it).
    func succeeded(_ reservation: Reservation, logger: Logger) async {
        do {
            if let user = reservation.user { try await store.clearEvents(user.key) }
            if let address = reservation.address { try await store.giveBackEvent(address.key, address.quota) }
        } catch {
            // The safe direction: the attempt stays counted as a failure until its window ends.
            logger.warning("login throttle: a successful login could not be uncounted", metadata: ["error": .string("\(error)")])
        }
    }

    /// The provider never judged the password: both places are given back.
    func release(_ reservation: Reservation, logger: Logger) async {
        do {
            if let user = reservation.user { try await store.giveBackEvent(user.key, user.quota) }
            if let address = reservation.address { try await store.giveBackEvent(address.key, address.quota) }
        } catch {
            logger.warning("login throttle: an unjudged login could not be uncounted", metadata: ["error": .string("\(error)")])
        }
    }
}
