import Foundation
import Synchronization

/// Broker-side throttling of password logins: failures are counted per username and per client address
/// in a sliding window; once a key reaches its limit, logins for it are refused with 429 until the oldest
/// failure leaves the window. Keycloak's own brute-force detection is off by default and, when on, looks
/// exactly like a wrong password, so the broker protects users and Keycloak itself.
///
/// In memory and per instance: behind a load balancer the effective limit is the limit times the number of
/// instances. Memory is bounded: at most `maxKeys` keys, the stalest dropped first.
final class LoginThrottle: Sendable {
    struct Limits: Sendable {
        /// Failures per username per window; 0 disables the check.
        var perUser: Int
        /// Failures per client address per window; 0 disables the check.
        var perAddress: Int
        var window: Double
    }

    let limits: Limits
    let maxKeys: Int
    private let failures = Mutex<[String: [Double]]>([:])

    init(limits: Limits, maxKeys: Int = 100_000) {
        self.limits = limits
        self.maxKeys = maxKeys
    }

    static func userKey(_ scope: String, _ username: String) -> String { "u:\(scope):\(username.lowercased())" }
    static func addressKey(_ address: String) -> String { "a:\(address)" }

    /// Seconds until a login for these keys may be tried again, or nil when it may be tried now.
    func retryAfter(user: String, address: String?, now: Double) -> Int? {
        failures.withLock { failures in
            var wait: Double = 0
            for (key, limit) in keys(user: user, address: address) where limit > 0 {
                guard let times = failures[key] else { continue }
                let recent = times.filter { $0 > now - limits.window }
                if recent.count >= limit, let oldest = recent.first { wait = max(wait, oldest + limits.window - now) }
            }
            return wait > 0 ? max(1, Int(wait.rounded(.up))) : nil
        }
    }

    func recordFailure(user: String, address: String?, now: Double) {
        failures.withLock { failures in
            if failures.count >= maxKeys { prune(&failures, now: now) }
            for (key, limit) in keys(user: user, address: address) where limit > 0 {
                var times = failures[key, default: []].filter { $0 > now - limits.window }
                times.append(now)
                if times.count > limit { times.removeFirst(times.count - limit) }
                failures[key] = times
            }
        }
    }

    /// A successful login clears the username's failures (not the address's: one good account must not
    /// reset a sprayer's budget).
    func recordSuccess(user: String) {
        _ = failures.withLock { $0.removeValue(forKey: user) }
    }

    private func keys(user: String, address: String?) -> [(String, Int)] {
        var keys = [(user, limits.perUser)]
        if let address { keys.append((Self.addressKey(address), limits.perAddress)) }
        return keys
    }

    /// Drops keys whose failures have all left the window; if that is not enough, the keys with the oldest last failure.
    private func prune(_ failures: inout [String: [Double]], now: Double) {
        failures = failures.filter { ($0.value.last ?? 0) > now - limits.window }
        if failures.count >= maxKeys {
            let stalest = failures.sorted { ($0.value.last ?? 0) < ($1.value.last ?? 0) }.prefix(failures.count - maxKeys / 2)
            for (key, _) in stalest { failures[key] = nil }
        }
    }

    var trackedKeys: Int { failures.withLock { $0.count } }
}
