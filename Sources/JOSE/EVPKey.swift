internal import COpenSSL

/// Owns one OpenSSL EVP_PKEY and frees it with the last reference.
final class EVPKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    /// The JWS algorithms this key's type can serve, checking curve and size limits.
    func check(for algorithm: JWSAlgorithm) throws(JOSEError) {
        let base = EVP_PKEY_get_base_id(pointer)
        switch algorithm {
        case .es256:
            guard base == EVP_PKEY_EC else { throw .invalidKey("ES256 needs an EC P-256 key") }
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_group_name(pointer, &name, name.count, &length) == 1,
                String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) == "prime256v1"
            else { throw .invalidKey("ES256 needs the P-256 curve") }
        case .rs256, .ps256:
            guard base == EVP_PKEY_RSA else { throw .invalidKey("\(algorithm.rawValue) needs an RSA key") }
            let bits = EVP_PKEY_get_bits(pointer)
            guard bits >= 2048 else { throw .invalidKey("RSA keys must have at least 2048 bits") }
            guard bits <= 8192 else { throw .invalidKey("RSA keys above 8192 bits are refused") }
        case .edDSA:
            guard base == EVP_PKEY_ED25519 else { throw .invalidKey("EdDSA needs an Ed25519 key") }
        }
    }

    /// The algorithm implied by the key alone, where it is unambiguous (RSA is not: RS256 or PS256).
    var impliedAlgorithm: JWSAlgorithm? {
        switch EVP_PKEY_get_base_id(pointer) {
        case EVP_PKEY_EC: return .es256
        case EVP_PKEY_ED25519: return .edDSA
        default: return nil
        }
    }

    func bigNumber(_ name: String, paddedTo length: Int = 0) throws(JOSEError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 1024)
        let written = tb_get_bn_param(pointer, name, &out, Int32(out.count), Int32(length))
        guard written > 0 else { throw .invalidKey("cannot read key parameter \(name)") }
        return Array(out.prefix(Int(written)))
    }

    func rawPublicKey() throws(JOSEError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        var length = out.count
        guard EVP_PKEY_get_raw_public_key(pointer, &out, &length) == 1 else {
            throw .invalidKey("cannot read the raw public key")
        }
        return Array(out.prefix(length))
    }
}
