/// One thing `/readyz` checks. The broker is ready only when every check passes.
public protocol ReadinessCheck: Sendable {
    /// Short name shown in the `/readyz` body.
    var name: String { get }
    /// nil when healthy, else a short operator-facing reason (no secrets).
    func failure() async -> String?
}
