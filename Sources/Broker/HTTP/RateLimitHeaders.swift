import Foundation
import HTTPTypes
import TenantRegistry
import Tokens

/// The IETF httpapi ratelimit-headers fields (`RateLimit-Policy`, `RateLimit`) every answer of a limited route
/// carries while a limit applies, and `Retry-After` on a refusal.
enum RateLimitHeaders {
    static let policy = HTTPField.Name("RateLimit-Policy")!
    static let state = HTTPField.Name("RateLimit")!

    static func append(_ decision: RateDecision, policy name: String, to fields: inout HTTPFields) {
        fields.append(HTTPField(name: policy, value: decision.policyHeader(name)))
        fields.append(HTTPField(name: state, value: decision.stateHeader(name)))
    }

    /// The fields of an answer that took one event of a per-minute quota in the store.
    static func append(_ quota: EventQuota, policy name: String, now: Date, to fields: inout HTTPFields) {
        let reset = quota.secondsLeft(from: now)
        let decision = RateDecision(allowed: true, limit: quota.limit, window: 60, remaining: quota.remaining, reset: reset, retryAfter: 0)
        append(decision, policy: name, to: &fields)
    }

    /// A refusal's fields: `Retry-After`, then the two above.
    static func refusal(_ decision: RateDecision, policy name: String) -> HTTPFields {
        var fields: HTTPFields = [.retryAfter: String(decision.retryAfter)]
        append(decision, policy: name, to: &fields)
        return fields
    }
}
