import JOSE
import KeyRing

/// Ready when the active key can actually sign and its own public key verifies the result.
struct KeyRingReadiness: ReadinessCheck {
    let keyRing: KeyRing
    var name: String { "signingKey" }

    func failure() async -> String? {
        let key = keyRing.current.active
        let probe = Array("readiness-probe".utf8)
        do {
            let signature = try key.sign(probe)
            return key.publicKey.verify(signature: signature, over: probe) ? nil : "active key does not verify its own signature"
        } catch {
            return "active key cannot sign: \(error.description)"
        }
    }
}
