import Synchronization

/// The issuer URL, which follows the bound port when it was left to default and the port was 0.
package final class IssuerBox: Sendable {
    private let value: Mutex<String>

    package init(_ issuer: String) {
        value = Mutex(issuer)
    }

    package var current: String { value.withLock { $0 } }

    package func set(_ issuer: String) {
        value.withLock { $0 = issuer }
    }
}
