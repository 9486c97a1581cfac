import Foundation

/// A thread's most recently used snapshot, with a reference of its own: a lookup that finds it still
/// current uses it without touching any shared reference count (see `TenantDirectory`).
final class ThreadSnapshotCache {
    var generation: UInt64 = 0
    var snapshot: Unmanaged<TenantSnapshot>?
    /// The same for the subtenant directory last used on this thread (`SubtenantDirectory`).
    var subtenantGeneration: UInt64 = 0
    var subtenants: Unmanaged<SubtenantDirectory.Snapshot>?

    deinit {
        snapshot?.release()
        subtenants?.release()
    }

    /// This thread's cache, created on first use and released when the thread exits.
    static var current: ThreadSnapshotCache {
        if let raw = pthread_getspecific(threadSnapshotCacheKey) {
            return Unmanaged<ThreadSnapshotCache>.fromOpaque(raw).takeUnretainedValue()
        }
        let cache = ThreadSnapshotCache()
        let status = pthread_setspecific(threadSnapshotCacheKey, Unmanaged.passRetained(cache).toOpaque())
        precondition(status == 0, "pthread_setspecific failed: \(status)")
        return cache
    }
}

/// The thread-specific key of each thread's `ThreadSnapshotCache`; the cache is released when its thread exits.
let threadSnapshotCacheKey: pthread_key_t = {
    var key = pthread_key_t()
    let status = pthread_key_create(&key) { raw in
        // The thread exits: drop its cache and the snapshot it holds.
        #if canImport(Darwin)
        Unmanaged<ThreadSnapshotCache>.fromOpaque(raw).release()
        #else
        if let raw { Unmanaged<ThreadSnapshotCache>.fromOpaque(raw).release() }
        #endif
    }
    precondition(status == 0, "pthread_key_create failed: \(status)")
    return key
}()
