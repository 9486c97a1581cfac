import TenantRegistry

/// Ready when the registry store answers a trivial query within two seconds.
struct StoreReadiness: ReadinessCheck {
    let store: SQLTenantStore
    var name: String { "store" }

    func failure() async -> String? {
        let store = self.store
        return await withTaskGroup(of: String?.self) { group in
            group.addTask {
                do {
                    try await store.ping()
                    return nil
                } catch {
                    return "store does not answer (\(store.location))"
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return "store did not answer within 2 s"
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
    }
}
