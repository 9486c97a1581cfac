internal import COpenSSL
import Synchronization

/// Reusable OpenSSL contexts for one key and one direction (sign or verify).
///
/// The template is initialised once when the key is loaded (algorithm fetch, padding, digest), so the hot path
/// never parses or fetches. Signing (and EdDSA verification) copies the template into a pooled EVP_MD_CTX per
/// use; verification of the other algorithms hashes first and reuses a pooled EVP_PKEY_CTX as it is, with no
/// copy at all (a verify does not change its context).
final class ContextPool: @unchecked Sendable {
    private enum Kind {
        /// EVP_MD_CTX template, copied into the working context before each use.
        case message
        /// EVP_PKEY_CTX, duplicated once per pooled context, used as is for SHA-256 digests.
        case prehashed
    }
    private let kind: Kind
    private let template: OpaquePointer
    /// A context that only one caller uses at a time (taken from, then returned to, the pool); for `prehashed`,
    /// with the digest context that hashes the input before each check.
    private struct Context: @unchecked Sendable {
        let pointer: OpaquePointer
        let digest: OpaquePointer?
    }
    private let idle = Mutex<[Context]>([])
    private let maxIdle = 64

    init?(key: OpaquePointer, algorithm: JWSAlgorithm, sign: Bool) {
        if !sign, algorithm != .edDSA {
            guard let template = tb_make_prehashed_verifier(key, algorithm.shimID, Crypto.sha256MD) else { return nil }
            kind = .prehashed
            self.template = template
        } else {
            guard let template = tb_make_template(key, algorithm.shimID, sign ? 1 : 0) else { return nil }
            kind = .message
            self.template = template
        }
    }

    deinit {
        free(Context(pointer: template, digest: nil))
        idle.withLock { contexts in
            for context in contexts { free(context) }
        }
    }

    private func free(_ context: Context) {
        switch kind {
        case .message: EVP_MD_CTX_free(context.pointer)
        case .prehashed: EVP_PKEY_CTX_free(context.pointer)
        }
        EVP_MD_CTX_free(context.digest)
    }

    /// Runs `body` with a working context borrowed from the pool (made on first need: a fresh EVP_MD_CTX, or a
    /// duplicate of the EVP_PKEY_CTX template and a fresh EVP_MD_CTX); nil when OpenSSL cannot make one.
    private func withWork<R>(_ body: (Context) -> R) -> R? {
        guard let work = idle.withLock({ $0.popLast() }) ?? makeWork() else { return nil }
        defer {
            let kept = idle.withLock { contexts -> Bool in
                guard contexts.count < maxIdle else { return false }
                contexts.append(work)
                return true
            }
            if !kept { free(work) }
        }
        return body(work)
    }

    private func makeWork() -> Context? {
        switch kind {
        case .message:
            if let work = EVP_MD_CTX_new() { return Context(pointer: work, digest: nil) }
        case .prehashed:
            if let work = EVP_PKEY_CTX_dup(template) {
                if let digest = EVP_MD_CTX_new() { return Context(pointer: work, digest: digest) }
                EVP_PKEY_CTX_free(work)
            }
        }
        ERR_clear_error()
        return nil
    }

    /// Signs `count` bytes at `data` into `signature` (capacity in `length`, the signature's length out).
    func sign(_ data: UnsafePointer<UInt8>?, _ count: Int, into signature: UnsafeMutablePointer<UInt8>, length: inout Int) -> Bool {
        precondition(kind == .message, "a verification pool cannot sign")
        return withWork { work in tb_sign(template, work.pointer, data, count, signature, &length) == 1 } ?? false
    }

    /// Checks `signature` (OpenSSL's format: DER for ECDSA) over `count` bytes at `data`.
    func verify(_ data: UnsafePointer<UInt8>?, _ count: Int, signature: UnsafePointer<UInt8>?, _ signatureCount: Int) -> Bool {
        withWork { work in
            switch kind {
            case .message: tb_verify(template, work.pointer, data, count, signature, signatureCount) == 1
            case .prehashed: tb_verify_prehashed(work.pointer, work.digest, Crypto.sha256MD, data, count, signature, signatureCount) == 1
            }
        } ?? false
    }
}
