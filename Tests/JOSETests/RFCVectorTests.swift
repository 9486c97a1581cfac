import Foundation
import JOSE
import Testing

/// Known-answer tests from RFC 7515 (appendix A), RFC 7638 (§3.1) and RFC 8037 (appendix A).
@Suite("RFC test vectors") struct RFCVectorTests {
    static let payloadA = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

    @Test("RFC 7515 A.2: the RS256 example verifies, and fails once altered")
    func rfc7515RS256() throws {
        let n =
            "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
        let key = try JWSPublicKey(jwk: JWK(kty: "RSA", n: n, e: "AQAB", alg: "RS256"))
        let token =
            "eyJhbGciOiJSUzI1NiJ9." + Self.payloadA
            + ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
        let verified = try JWS.verify(token, using: key)
        #expect(verified.claims["iss"] == .string("joe"))
        #expect(verified.claims["exp"] == .int(1_300_819_380))
        #expect(verified.claims["http://example.com/is_root"] == .bool(true))
        let altered = token.replacingOccurrences(of: "Rw", with: "Rx", options: .backwards)
        #expect(throws: JOSEError.self) { try JWS.verify(altered, using: key) }
    }

    @Test("RFC 7515 A.3: the ES256 example verifies with the raw R||S signature")
    func rfc7515ES256() throws {
        let key = try JWSPublicKey(
            jwk: JWK(
                kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"))
        #expect(key.algorithm == .es256)
        let token =
            "eyJhbGciOiJFUzI1NiJ9." + Self.payloadA
            + ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
        let verified = try JWS.verify(token, using: key)
        #expect(verified.claims["iss"] == .string("joe"))
    }

    @Test("RFC 8037 A.4: Ed25519 signing is byte-exact and verifies")
    func rfc8037Ed25519() throws {
        // PKCS#8 wrapping of the RFC's private key d = nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A.
        let der = [UInt8](
            hex: "302e020100300506032b6570042204209d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
        let pem = "-----BEGIN PRIVATE KEY-----\n" + base64(der) + "\n-----END PRIVATE KEY-----\n"
        let key = try JWSPrivateKey(pem: Array(pem.utf8), algorithm: .edDSA)
        #expect(key.publicKey.jwk.x == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
        let signature = try key.sign(Array(input.utf8))
        #expect(
            Base64URL.encode(signature)
                == "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
        let jws = try JWS.verifySignature(input + "." + Base64URL.encode(signature), using: key.publicKey)
        #expect(try jws.payload() == Array("Example of Ed25519 signing".utf8))
    }

    @Test("RFC 8037 A.3: Ed25519 JWK thumbprint")
    func rfc8037Thumbprint() {
        let jwk = JWK(kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        #expect(jwk.thumbprint() == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    }

    @Test("RFC 7638 §3.1: RSA JWK thumbprint, ignoring kid and alg")
    func rfc7638Thumbprint() {
        let jwk = JWK(
            kty: "RSA",
            n:
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            e: "AQAB", kid: "2011-04-29", alg: "RS256")
        #expect(jwk.thumbprint() == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    private func base64(_ bytes: [UInt8]) -> String {
        var text = Base64URL.encode(bytes).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        return text
    }
}

extension Array where Element == UInt8 {
    init(hex: String) {
        var bytes = [UInt8]()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self = bytes
    }
}
