import HTTPTypes
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

    /// A refusal's fields: `Retry-After`, then the two above.
    static func refusal(_ decision: RateDecision, policy name: String) -> HTTPFields {
        var fields: HTTPFields = [.retryAfter: String(decision.retryAfter)]
        append(decision, policy: name, to: &fields)
        return fields
    }
}
