internal import COpenSSL

/// Small OpenSSL-backed primitives shared by the broker: hashing, randomness, constant-time comparison.
public enum Crypto {
    /// Fetched once: an implicit fetch per call (`EVP_sha256()`) costs a provider lookup each time.
    nonisolated(unsafe) static let sha256MD: OpaquePointer? = EVP_MD_fetch(nil, "SHA256", nil)

    /// SHA-256 of `data`.
    public static func sha256(_ data: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = data.withContiguousStorageIfAvailable { buffer in
            EVP_Digest(buffer.baseAddress, buffer.count, &out, &length, sha256MD, nil)
        } ?? Array(data).withUnsafeBufferPointer { buffer in
            EVP_Digest(buffer.baseAddress, buffer.count, &out, &length, sha256MD, nil)
        }
        precondition(ok == 1 && length == 32, "SHA-256 through OpenSSL failed")
        return out
    }

    /// `count` bytes from OpenSSL's CSPRNG.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let ok = RAND_bytes(&out, Int32(count))
        precondition(ok == 1, "RAND_bytes failed: the CSPRNG is unusable")
        return out
    }

    /// Compares two byte strings in time that depends only on their lengths.
    public static func constantTimeEqual(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        let left = Array(a)
        let right = Array(b)
        guard left.count == right.count else { return false }
        if left.isEmpty { return true }
        return CRYPTO_memcmp(left, right, left.count) == 0
    }

    /// Lowercase hex of `bytes`.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// AES-256-GCM through OpenSSL EVP: `nonce(12) || ciphertext || tag(16)`. `aad` is authenticated, not
    /// encrypted (bind the ciphertext to its record by passing the record's id). A fresh random nonce per call.
    public static func sealAESGCM(key: [UInt8], plaintext: [UInt8], aad: [UInt8]) -> [UInt8] {
        precondition(key.count == 32, "AES-256-GCM needs a 32-byte key")
        let nonce = randomBytes(12)
        guard let ctx = EVP_CIPHER_CTX_new() else { preconditionFailure("EVP_CIPHER_CTX_new failed") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: plaintext.count + 16)
        var length: Int32 = 0
        var ok = EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, nil) == 1
        if !aad.isEmpty { ok = ok && EVP_EncryptUpdate(ctx, nil, &length, aad, Int32(aad.count)) == 1 }
        var written = 0
        if !plaintext.isEmpty {
            ok = ok && EVP_EncryptUpdate(ctx, &out, &length, plaintext, Int32(plaintext.count)) == 1
            written = Int(length)
        }
        ok = ok && out.withUnsafeMutableBufferPointer { EVP_EncryptFinal_ex(ctx, $0.baseAddress! + written, &length) } == 1
        written += Int(length)
        var tag = [UInt8](repeating: 0, count: 16)
        ok = ok && EVP_CIPHER_CTX_ctrl(ctx, 0x10 /* EVP_CTRL_AEAD_GET_TAG */, 16, &tag) == 1
        precondition(ok, "AES-256-GCM encryption through OpenSSL failed")
        return nonce + out[..<written] + tag
    }

    /// Opens what `sealAESGCM` made; nil when the key, the aad or any byte is wrong.
    public static func openAESGCM(key: [UInt8], sealed: [UInt8], aad: [UInt8]) -> [UInt8]? {
        guard key.count == 32, sealed.count >= 28 else { return nil }
        let nonce = Array(sealed[0..<12])
        let ciphertext = Array(sealed[12..<(sealed.count - 16)])
        var tag = Array(sealed[(sealed.count - 16)...])
        guard let ctx = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: ciphertext.count + 16)
        var length: Int32 = 0
        guard EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, nil) == 1 else { return nil }
        if !aad.isEmpty { guard EVP_DecryptUpdate(ctx, nil, &length, aad, Int32(aad.count)) == 1 else { return nil } }
        var written = 0
        if !ciphertext.isEmpty {
            guard EVP_DecryptUpdate(ctx, &out, &length, ciphertext, Int32(ciphertext.count)) == 1 else { return nil }
            written = Int(length)
        }
        guard EVP_CIPHER_CTX_ctrl(ctx, 0x11 /* EVP_CTRL_AEAD_SET_TAG */, 16, &tag) == 1 else { return nil }
        let final = out.withUnsafeMutableBufferPointer { EVP_DecryptFinal_ex(ctx, $0.baseAddress! + written, &length) }
        guard final == 1 else { return nil }
        written += Int(length)
        return Array(out[..<written])
    }
}
