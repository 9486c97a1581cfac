internal import COpenSSL

/// A verification key bound to exactly one algorithm, parsed once and reused for every token.
public final class JWSPublicKey: Sendable {
    /// The only algorithm this key verifies; a token naming another is refused.
    public let algorithm: JWSAlgorithm
    /// The key id tokens name it by.
    public let kid: String
    /// The public JWK, with `kid`, `alg` and `use: sig`.
    public let jwk: JWK
    let key: EVPKey
    private let verifier: ContextPool

    init(key: EVPKey, algorithm: JWSAlgorithm, kid: String?) throws(JOSEError) {
        try key.check(for: algorithm)
        var jwk: JWK
        switch algorithm {
        case .es256:
            jwk = JWK(
                kty: "EC", crv: "P-256", x: Base64URL.encode(try key.bigNumber("qx", paddedTo: 32)),
                y: Base64URL.encode(try key.bigNumber("qy", paddedTo: 32)))
        case .rs256, .ps256:
            jwk = JWK(kty: "RSA", n: Base64URL.encode(try key.bigNumber("n")), e: Base64URL.encode(try key.bigNumber("e")))
        case .edDSA:
            jwk = JWK(kty: "OKP", crv: "Ed25519", x: Base64URL.encode(try key.rawPublicKey()))
        }
        jwk.kid = kid ?? jwk.thumbprint()
        jwk.alg = algorithm.rawValue
        jwk.use = "sig"
        guard let verifier = ContextPool(key: key.pointer, algorithm: algorithm, sign: false) else {
            throw .invalidKey("OpenSSL cannot verify \(algorithm.rawValue) with this key")
        }
        self.algorithm = algorithm
        self.kid = jwk.kid!
        self.jwk = jwk
        self.key = key
        self.verifier = verifier
    }

    /// Builds a verification key from a public JWK. The algorithm comes from the JWK's `alg`
    /// (or, for EC and OKP keys without one, from the curve); an RSA JWK without `alg` is refused.
    public convenience init(jwk: JWK) throws(JOSEError) {
        if let use = jwk.use, use != "sig" { throw .invalidKey("key is not for signatures (use=\(use))") }
        let algorithm: JWSAlgorithm
        if let alg = jwk.alg {
            guard let parsed = JWSAlgorithm(jose: alg) else { throw .invalidKey("unsupported alg \(alg)") }
            algorithm = parsed
        } else {
            switch (jwk.kty, jwk.crv) {
            case ("EC", "P-256"): algorithm = .es256
            case ("OKP", "Ed25519"): algorithm = .edDSA
            default: throw .invalidKey("key has no alg and its type does not imply one")
            }
        }
        guard algorithm.keyType == jwk.kty else { throw .invalidKey("kty \(jwk.kty) does not fit alg \(algorithm.rawValue)") }
        let pointer: OpaquePointer?
        switch algorithm {
        case .es256:
            guard jwk.crv == "P-256", let x = jwk.x.flatMap(Base64URL.decode), let y = jwk.y.flatMap(Base64URL.decode),
                x.count == 32, y.count == 32
            else { throw .invalidKey("EC key needs crv P-256 and 32-byte x and y") }
            let point = [0x04] + x + y
            pointer = tb_public_from_params(1, point, point.count, nil, 0)
        case .rs256, .ps256:
            guard let n = jwk.n.flatMap(Base64URL.decode), let e = jwk.e.flatMap(Base64URL.decode), !n.isEmpty,
                !e.isEmpty, e.count <= 8
            else { throw .invalidKey("RSA key needs n and e") }
            pointer = tb_public_from_params(2, n, n.count, e, e.count)
        case .edDSA:
            guard jwk.crv == "Ed25519", let x = jwk.x.flatMap(Base64URL.decode), x.count == 32 else {
                throw .invalidKey("OKP key needs crv Ed25519 and a 32-byte x")
            }
            pointer = x.withUnsafeBufferPointer { EVP_PKEY_new_raw_public_key_ex(nil, "ED25519", nil, $0.baseAddress, 32) }
        }
        guard let pointer else { throw .invalidKey("OpenSSL refused the key parameters") }
        try self.init(key: EVPKey(taking: pointer), algorithm: algorithm, kid: jwk.kid)
    }

    /// Verifies a JOSE-format signature (raw R||S for ES256) over `input`.
    public func verify(signature: [UInt8], over input: UnsafeRawBufferPointer) -> Bool {
        signature.withUnsafeBufferPointer { verify(signature: $0, over: input) }
    }

    /// Verifies a JOSE-format signature held in any contiguous memory; nothing is allocated on the heap.
    func verify(signature: UnsafeBufferPointer<UInt8>, over input: UnsafeRawBufferPointer) -> Bool {
        let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        guard algorithm == .es256 else {
            return verifier.verify(base, input.count, signature: signature.baseAddress, signature.count)
        }
        guard signature.count == 64 else { return false }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 72) { der in
            let length = JWSPublicKey.ecdsaDER(raw: signature, into: der.baseAddress!)
            return verifier.verify(base, input.count, signature: der.baseAddress, length)
        }
    }

    /// DER ECDSA-Sig-Value (minimal INTEGERs, as i2d_ECDSA_SIG writes it) for a 64-byte R||S; at most 72 bytes.
    static func ecdsaDER(raw: UnsafeBufferPointer<UInt8>, into der: UnsafeMutablePointer<UInt8>) -> Int {
        var position = 2
        for half in 0..<2 {
            let start = half * 32
            var first = start
            // Minimal encoding: no leading zero bytes, but at least one byte (zero encodes as 02 01 00).
            while first < start + 31, raw[first] == 0 { first += 1 }
            let pad = raw[first] >= 0x80 ? 1 : 0
            let length = start + 32 - first
            der[position] = 0x02
            der[position + 1] = UInt8(length + pad)
            position += 2
            if pad == 1 {
                der[position] = 0
                position += 1
            }
            (der + position).update(from: raw.baseAddress! + first, count: length)
            position += length
        }
        der[0] = 0x30
        der[1] = UInt8(position - 2)
        return position
    }

    /// Verifies a JOSE-format signature over `input`.
    public func verify(signature: [UInt8], over input: [UInt8]) -> Bool {
        input.withUnsafeBytes { verify(signature: signature, over: $0) }
    }

    /// The public key as SubjectPublicKeyInfo PEM.
    public func pem() -> String {
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0
        guard tb_pem_write_public(key.pointer, &out, &length) == 1, let out else { return "" }
        defer { tb_openssl_free(out) }
        return String(decoding: UnsafeBufferPointer(start: out, count: length), as: UTF8.self)
    }
}
