import Foundation

/// Runs blocking work (socket reads, waiting for a child process) on a thread of its own: a blocked receive must
/// not hold one of the few cooperative threads that the in-process server (and every other test running beside
/// this one) needs to answer.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
