import Synchronization

/// Where a handler that learns a request's tenant only while answering (forward-auth, from the verified token)
/// leaves it for the access log line. The observability middleware makes one only for such routes, so other
/// requests pay nothing for it.
final class TenantReport: Sendable {
    private let value = Mutex<String?>(nil)

    /// The tenant reported so far, if any.
    var tenantId: String? { value.withLock { $0 } }

    func report(_ tenantId: String) {
        value.withLock { $0 = tenantId }
    }
}
