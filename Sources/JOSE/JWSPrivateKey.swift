internal import COpenSSL

/// A signing key bound to one algorithm. Parsed once; signing reuses prepared OpenSSL contexts.
public final class JWSPrivateKey: Sendable {
    /// The algorithm this key signs with.
    public let algorithm: JWSAlgorithm
    /// The matching verification key (its `kid` is the RFC 7638 thumbprint).
    public let publicKey: JWSPublicKey
    private let key: EVPKey
    private let signer: ContextPool
    /// Room OpenSSL needs for one signature (DER for ECDSA).
    private let derCapacity: Int
    /// Length of a JOSE-format signature (raw R||S for ES256); the upper bound for RSA.
    let signatureLength: Int

    /// The key id: the RFC 7638 thumbprint of the public key.
    public var kid: String { publicKey.kid }

    private init(key: EVPKey, algorithm: JWSAlgorithm) throws(JOSEError) {
        self.publicKey = try JWSPublicKey(key: key, algorithm: algorithm, kid: nil)
        guard let signer = ContextPool(key: key.pointer, algorithm: algorithm, sign: true) else {
            throw .invalidKey("OpenSSL cannot sign \(algorithm.rawValue) with this key")
        }
        self.algorithm = algorithm
        self.key = key
        self.signer = signer
        let size = max(Int(EVP_PKEY_get_size(key.pointer)), 64)
        self.derCapacity = size
        self.signatureLength = algorithm == .es256 ? 64 : size
    }

    /// Generates a new key: P-256, RSA (`rsaBits`, default 2048) or Ed25519.
    public static func generate(_ algorithm: JWSAlgorithm, rsaBits: Int = 2048) throws(JOSEError) -> JWSPrivateKey {
        guard let pointer = tb_keygen(algorithm.shimID, UInt32(rsaBits)) else {
            throw .cryptoFailure("key generation for \(algorithm.rawValue)")
        }
        return try JWSPrivateKey(key: EVPKey(taking: pointer), algorithm: algorithm)
    }

    /// Parses a PEM private key (PKCS#8, unencrypted) for `algorithm`; the key type must fit it.
    public convenience init(pem: [UInt8], algorithm: JWSAlgorithm) throws(JOSEError) {
        guard pem.count < 64 * 1024 else { throw .invalidKey("PEM is too large") }
        let text = String(decoding: pem, as: UTF8.self)
        guard text.contains("-----BEGIN PRIVATE KEY-----") else {
            throw .invalidKey("not an unencrypted PKCS#8 PEM private key (BEGIN PRIVATE KEY)")
        }
        guard let pointer = pem.withUnsafeBytes({ tb_pem_read_private($0.baseAddress, Int32($0.count)) }) else {
            throw .invalidKey("PEM does not hold a readable private key")
        }
        let key = EVPKey(taking: pointer)
        guard EVP_PKEY_get_base_id(pointer) != EVP_PKEY_NONE else { throw .invalidKey("unknown key type") }
        try self.init(key: key, algorithm: algorithm)
    }

    /// The algorithm a PEM private key implies by its type alone (nil for RSA, which may be RS256 or PS256).
    public static func impliedAlgorithm(pem: [UInt8]) -> JWSAlgorithm? {
        guard let pointer = pem.withUnsafeBytes({ tb_pem_read_private($0.baseAddress, Int32($0.count)) }) else {
            return nil
        }
        return EVPKey(taking: pointer).impliedAlgorithm
    }

    /// The key as unencrypted PKCS#8 PEM, for the key ring's 0600 files.
    public func pkcs8PEM() throws(JOSEError) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0
        guard tb_pem_write_private(key.pointer, &out, &length) == 1, let out else {
            throw .cryptoFailure("PEM encoding")
        }
        defer { tb_openssl_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: length))
    }

    /// Signs `input` and returns the JOSE-format signature (raw R||S for ES256).
    public func sign(_ input: UnsafeRawBufferPointer) throws(JOSEError) -> [UInt8] {
        try signRaw(input) { Array($0) }.get()
    }

    /// Signs `input` and hands the JOSE-format signature to `body`, in temporary storage only.
    func signRaw<R>(_ input: UnsafeRawBufferPointer, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> Result<R, JOSEError> {
        let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: derCapacity + 64) { storage in
            let der = storage.baseAddress!
            var length = derCapacity
            let ok = signer.sign(base, input.count, into: der, length: &length)
            guard ok, length <= derCapacity else { return .failure(.cryptoFailure("signing")) }
            guard algorithm == .es256 else { return .success(body(UnsafeBufferPointer(start: der, count: length))) }
            let raw = der + derCapacity
            guard JWSPrivateKey.ecdsaRaw(der: UnsafeBufferPointer(start: der, count: length), into: raw)
                || tb_ecdsa_der_to_raw(der, length, raw, 32) == 1
            else { return .failure(.cryptoFailure("ECDSA encoding")) }
            return .success(body(UnsafeBufferPointer(start: raw, count: 64)))
        }
    }

    /// Fast path for the DER OpenSSL writes: SEQUENCE of two minimal, non-negative INTEGERs of at most
    /// 32 significant bytes, with nothing after them. Anything else returns false (the caller then uses OpenSSL's parser).
    static func ecdsaRaw(der: UnsafeBufferPointer<UInt8>, into raw: UnsafeMutablePointer<UInt8>) -> Bool {
        let count = der.count
        guard count >= 8, count < 128, der[0] == 0x30, Int(der[1]) == count - 2 else { return false }
        var position = 2
        for half in 0..<2 {
            guard position + 2 <= count, der[position] == 0x02 else { return false }
            var length = Int(der[position + 1])
            position += 2
            guard length >= 1, length < 0x80, position + length <= count else { return false }
            // Non-negative and minimal.
            guard der[position] & 0x80 == 0 else { return false }
            if length > 1, der[position] == 0 {
                guard der[position + 1] & 0x80 != 0 else { return false }
                position += 1
                length -= 1
            }
            guard length <= 32 else { return false }
            let target = raw + half * 32
            target.initialize(repeating: 0, count: 32 - length)
            (target + 32 - length).initialize(from: der.baseAddress! + position, count: length)
            position += length
        }
        return position == count
    }

    /// Signs `input` bytes.
    public func sign(_ input: [UInt8]) throws(JOSEError) -> [UInt8] {
        let result = input.withUnsafeBytes { buffer in
            Result { () throws(JOSEError) -> [UInt8] in try sign(buffer) }
        }
        return try result.get()
    }
}
