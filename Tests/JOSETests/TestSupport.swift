import JOSE

/// Builds compact tokens by hand, so tests can forge headers a correct signer never writes.
enum Forge {
    static func b64(_ text: String) -> String { Base64URL.encode(Array(text.utf8)) }

    /// Signs `header.payload` (raw JSON text) with `key`, whatever the header says.
    static func token(header: String, payload: String, key: JWSPrivateKey) throws -> String {
        let input = b64(header) + "." + b64(payload)
        return input + "." + Base64URL.encode(try key.sign(Array(input.utf8)))
    }

    /// HMAC-SHA256 built from SHA-256, to forge the classic RS/HS confusion token.
    static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var k = key.count > 64 ? Crypto.sha256(key) : key
        k += [UInt8](repeating: 0, count: 64 - k.count)
        let inner = Crypto.sha256(k.map { $0 ^ 0x36 } + message)
        return Crypto.sha256(k.map { $0 ^ 0x5c } + inner)
    }

    static func claims(now: Double = 1_800_000_000, ttl: Double = 300) -> String {
        "{\"iss\":\"https://broker.test\",\"sub\":\"svc\",\"aud\":\"https://tenant1.expertflow.com\",\"exp\":\(Int(now + ttl)),\"iat\":\(Int(now)),\"nbf\":\(Int(now)),\"tenant_id\":\"tenant1\"}"
    }
}
