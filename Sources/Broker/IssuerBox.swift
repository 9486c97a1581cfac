import Synchronization

/// The issuer URL, which follows the bound port when it was left to default and the port was 0.
final class IssuerBox: Sendable {
    private let value: Mutex<String>

    init(_ issuer: String) {
        value = Mutex(issuer)
    }

    var current: String { value.withLock { $0 } }

    func set(_ issuer: String) {
        value.withLock { $0 = issuer }
    }
}
