internal import COpenSSL
import Synchronization

/// Reusable EVP contexts for one key and one direction (sign or verify).
///
/// The template is initialised once when the key is loaded (algorithm fetch, padding, digest),
/// so the hot path only copies it into a pooled working context: no PEM parsing, no fetch.
final class ContextPool: @unchecked Sendable {
    private let template: OpaquePointer
    /// An EVP_MD_CTX that only one caller uses at a time (taken from, then returned to, the pool).
    private struct Context: @unchecked Sendable {
        let pointer: OpaquePointer
    }
    private let idle = Mutex<[Context]>([])
    private let maxIdle = 64

    init?(key: OpaquePointer, algorithm: JWSAlgorithm, sign: Bool) {
        guard let template = tb_make_template(key, algorithm.shimID, sign ? 1 : 0) else { return nil }
        self.template = template
    }

    deinit {
        EVP_MD_CTX_free(template)
        idle.withLock { contexts in
            for context in contexts { EVP_MD_CTX_free(context.pointer) }
        }
    }

    /// Runs `body` with the template and a working context borrowed from the pool.
    func withContext<R>(_ body: (_ template: OpaquePointer, _ work: OpaquePointer) -> R) -> R {
        let work = idle.withLock { $0.popLast() } ?? Context(pointer: EVP_MD_CTX_new()!)
        defer {
            let kept = idle.withLock { contexts -> Bool in
                guard contexts.count < maxIdle else { return false }
                contexts.append(work)
                return true
            }
            if !kept { EVP_MD_CTX_free(work.pointer) }
        }
        return body(template, work.pointer)
    }
}
