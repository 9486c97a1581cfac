/// Why an OTP Manager operation failed after its retries.
public enum OTPUpstreamFailure: Error, Equatable, Sendable {
    /// Connection errors, 5xx, 429: 503 `otp_unavailable`.
    case unavailable(String)
    /// The tenant's circuit is open or too many of its calls are in flight: nothing was sent; 503 `otp_unavailable`.
    case notSent(String)
    /// The overall deadline passed: 504 `otp_timeout`.
    case timeout
    /// A definitive 4xx to a send (the manager refuses the recipient or the request): not retried.
    case rejected(Int)

    /// Whether the operation reached the network (so its duration says something about the OTP Manager).
    public var wasSent: Bool {
        if case .notSent = self { return false }
        return true
    }
}
