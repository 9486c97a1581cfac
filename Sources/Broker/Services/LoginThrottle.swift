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

    /// Whose usernames a key counts: the portal's (master realm) or one tenant's. Portal keys have their own
    /// prefix, so no tenant id (not even `master`) shares them.
    enum Scope: Sendable, Equatable {
        case portal
        case tenant(String)

        /// The route as metrics label it.
        var route: String {
            switch self {
            case .portal: RoutePaths.loginLabel
            case .tenant: RoutePaths.tenantLoginLabel
            }
        }
    }

    static func userKey(_ scope: Scope, _ username: String) -> String {
        switch scope {
        case .portal: "lf:p:\(username.lowercased())"
        case .tenant(let tenantId): "lf:u:\(tenantId):\(username.lowercased())"
        }
    }
    static func addressKey(_ address: String) -> String { "lf:a:\(address)" }

    /// Takes this attempt's places for `user` (a `userKey`) and the client address. Throws
    /// `LoginRefusal.throttled` when either window is full, `StoreError` when the store cannot count. A full
    /// window is seen by a read first, so a refused attempt writes nothing (a flood of refused guesses, or a
    /// sprayer whose address is full, costs reads only); the takes after it close the race between parallel
    /// attempts. The address is taken before the username, so a full address leaves no username row behind.
    func reserve(user: String, address: String?, now: Date) async throws -> Reservation {
        let window = Int(limits.window.rounded(.up))
        var keys: [(key: String, limit: Int)] = []
        if limits.perAddress > 0, let address { keys.append((Self.addressKey(address), limits.perAddress)) }
        if limits.perUser > 0 { keys.append((user, limits.perUser)) }
        var wait = 0
        for (key, limit) in keys {
            if let full = try await store.fullWindow(key, limit: limit, now: now) { wait = max(wait, full.secondsLeft(from: now)) }
        }
        if wait > 0 { throw LoginRefusal.throttled(retryAfter: wait) }
        var taken: [(key: String, quota: EventQuota)] = []
        do {
            for (key, limit) in keys {
                let quota = try await store.takeEvent(key, limit: limit, window: window, now: now)
                // A parallel attempt took the last place between the read and the take.
                guard quota.taken else { throw LoginRefusal.throttled(retryAfter: quota.secondsLeft(from: now)) }
                taken.append((key, quota))
            }
        } catch {
            // Nothing stays taken for an attempt that does not go ahead.
            for place in taken { try? await store.giveBackEvent(place.key, place.quota) }
            throw error
        }
        return Reservation(user: taken.first { $0.key == user }, address: taken.first { $0.key != user })
    }

    /// The provider accepted the password: the username's failures are forgotten, the address's place is given
    /// back (one good account must not reset a sprayer's budget, nor spend it).
    func succeeded(_ reservation: Reservation, logger: Logger) async {
        // Each on its own: one failing must not keep the other. A failure is the safe direction (the attempt stays
        // counted until its window ends). Clearing the username also forgets parallel attempts still in flight.
        if let user = reservation.user {
            do { try await store.clearEvents(user.key) } catch { logUncounted(error, logger) }
        }
        if let address = reservation.address {
            do { try await store.giveBackEvent(address.key, address.quota) } catch { logUncounted(error, logger) }
        }
    }

    private func logUncounted(_ error: any Error, _ logger: Logger) {
        logger.warning("login throttle: an attempt could not be uncounted; it stays counted until its window ends", metadata: ["error": .string("\(error)")])
    }

    /// The provider never judged the password: both places are given back.
    func release(_ reservation: Reservation, logger: Logger) async {
        for place in [reservation.user, reservation.address].compactMap({ $0 }) {
            do { try await store.giveBackEvent(place.key, place.quota) } catch { logUncounted(error, logger) }
        }
    }
}
