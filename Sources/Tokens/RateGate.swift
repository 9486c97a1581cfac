import Foundation
import Synchronization

/// What a rate limit decided for one request, with what the `RateLimit-Policy` / `RateLimit` headers
/// (IETF httpapi ratelimit-headers) and `Retry-After` say about it.
package struct RateDecision: Sendable, Equatable {
    package let allowed: Bool
    /// Requests allowed per window (`q`).
    package let limit: Int
    /// The window in seconds (`w`).
    package let window: Int
    /// Requests that would still be allowed right now (`r`).
    package let remaining: Int
    /// Seconds until the quota is whole again (`t`).
    package let reset: Int
    /// Seconds to wait before the next request can be allowed (0 when this one was).
    package let retryAfter: Int

    package init(allowed: Bool, limit: Int, window: Int, remaining: Int, reset: Int, retryAfter: Int) {
        self.allowed = allowed
        self.limit = limit
        self.window = window
        self.remaining = remaining
        self.reset = reset
        self.retryAfter = retryAfter
    }

    /// `RateLimit-Policy`: `"<policy>";q=<limit>;w=<window>`.
    package func policyHeader(_ policy: String) -> String { "\"\(policy)\";q=\(limit);w=\(window)" }
    /// `RateLimit`: `"<policy>";r=<remaining>;t=<reset>`.
    package func stateHeader(_ policy: String) -> String { "\"\(policy)\";r=\(remaining);t=\(reset)" }
}

/// A lock-free rate limit on one atomic: the generic cell rate algorithm (GCRA), a token bucket of `limit`
/// requests refilled evenly over `window` seconds, kept as one number (the theoretical arrival time of the
/// next request). An allowed request is one compare-and-exchange on the caller's own atomic; a refused one
/// only loads it. Times are nanoseconds of the monotonic clock (`now()`).
package enum RateGate {
    package static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    /// Takes one request from the bucket in `gate` (`limit` ≥ 1 per `window` ≥ 1 seconds, bursts up to `limit`).
    package static func take(_ gate: borrowing Atomic<Int64>, limit: Int, window: Int, now: Int64) -> RateDecision {
        let span = Int64(window) * 1_000_000_000
        let interval = max(1, span / Int64(limit))
        let tolerance = span - interval
        var arrival = gate.load(ordering: .relaxed)
        while true {
            let start = max(arrival, now)
            if start - now > tolerance {
                return RateDecision(
                    allowed: false, limit: limit, window: window, remaining: 0, reset: seconds(start - now),
                    retryAfter: max(1, seconds(start - now - tolerance)))
            }
            let next = start + interval
            let (exchanged, current) = gate.compareExchange(expected: arrival, desired: next, ordering: .relaxed)
            if exchanged {
                let remaining = Int((now + tolerance - next + interval) / interval)
                return RateDecision(
                    allowed: true, limit: limit, window: window, remaining: min(limit - 1, max(0, remaining)), reset: seconds(next - now),
                    retryAfter: 0)
            }
            arrival = current
        }
    }

    /// Whole seconds, rounded up.
    static func seconds(_ nanoseconds: Int64) -> Int {
        Int((max(0, nanoseconds) + 999_999_999) / 1_000_000_000)
    }
}

/// The operator's default limits (`--tenant-mint-rate`, `--tenant-otp-rate`, `--tenant-login-rate`; 0: no
/// limit) for tenants whose `limits` leave a field null. Read on every mint; a SIGHUP changes them.
package final class TenantRateDefaults: Sendable {
    private let mint: Atomic<Int>
    private let otp: Atomic<Int>
    private let login: Atomic<Int>

    package init(mintPerSecond: Int, otpPerMinute: Int, loginPerMinute: Int) {
        mint = Atomic(mintPerSecond)
        otp = Atomic(otpPerMinute)
        login = Atomic(loginPerMinute)
    }

    package var mintPerSecond: Int { mint.load(ordering: .relaxed) }
    package var otpPerMinute: Int { otp.load(ordering: .relaxed) }
    package var loginPerMinute: Int { login.load(ordering: .relaxed) }

    package func set(mintPerSecond: Int, otpPerMinute: Int, loginPerMinute: Int) {
        mint.store(mintPerSecond, ordering: .relaxed)
        otp.store(otpPerMinute, ordering: .relaxed)
        login.store(loginPerMinute, ordering: .relaxed)
    }
}
