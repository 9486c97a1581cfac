import Foundation

/// How the broker talks to OTP Managers (`spec/otp-manager.md`); every part configurable per deployment.
public struct OTPManagerSettings: Sendable {
    public var generatePath = "otp/generate"
    public var verifyPath = "otp/verify"
    /// Canonical field name → the name on the wire (`recipient` → `to`, say); unmapped names are kept.
    public var fieldNames: [String: String] = [:]
    public var tries = 3
    public var backoffBase = 0.1
    public var backoffCap = 2.0
    /// Overall deadline of one operation, retries and waits included, seconds.
    public var deadline = 5.0
    /// Calls in flight to one tenant's OTP Manager; more are refused at once (503), so a dead manager cannot
    /// hold every connection and task of the broker.
    public var perTenantConcurrency = 8
    /// Consecutive failed operations that open a tenant's circuit, and how long it stays open (seconds).
    public var breakerThreshold = 5
    public var breakerCooldown = 30.0

    public init(
        generatePath: String = "otp/generate", verifyPath: String = "otp/verify", fieldNames: [String: String] = [:], tries: Int = 3,
        backoffBase: Double = 0.1, backoffCap: Double = 2.0, deadline: Double = 5.0, perTenantConcurrency: Int = 8,
        breakerThreshold: Int = 5, breakerCooldown: Double = 30.0
    ) {
        self.generatePath = generatePath
        self.verifyPath = verifyPath
        self.fieldNames = fieldNames
        self.tries = tries
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
        self.deadline = deadline
        self.perTenantConcurrency = perTenantConcurrency
        self.breakerThreshold = breakerThreshold
        self.breakerCooldown = breakerCooldown
    }

    public func wire(_ name: String) -> String { fieldNames[name] ?? name }
}
