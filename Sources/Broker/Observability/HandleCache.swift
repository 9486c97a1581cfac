import Synchronization

/// Handles made once per key and then only looked up (a short critical section: one dictionary lookup).
final class HandleCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let handles = Mutex<[Key: Value]>([:])

    func handle(for key: Key, make: () -> Value) -> Value {
        if let found = handles.withLock({ $0[key] }) { return found }
        // Made outside the lock (the registry has its own); if two threads race, both get the registry's one
        // handle for these labels, so keeping either is the same.
        let made = make()
        return handles.withLock { handles in
            if let found = handles[key] { return found }
            handles[key] = made
            return made
        }
    }
}
