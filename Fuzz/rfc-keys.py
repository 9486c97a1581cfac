#!/usr/bin/env python3
"""Prints the published RFC test keys the fuzz targets sign and verify with, as PKCS#8 PEM.

The keys are the examples of RFC 7515 A.2 (RSA, RS256), RFC 7515 A.3 (EC P-256, ES256) and RFC 8037 A.1
(Ed25519). They are public test vectors, never secrets. Each key is rebuilt here from its JWK numbers and
checked against the RFC's own signature (byte-exact for the deterministic RS256 and EdDSA examples, a verify
for ES256) before it is printed, so a transcription error cannot slip into Fuzz/Common.swift, which holds
the output. Needs the `cryptography` package (scripts/install-test-deps.sh installs it).
"""
import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def num(text: str) -> int:
    return int.from_bytes(b64d(text), "big")


PAYLOAD = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

# RFC 7515 A.2
RSA_N = (
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pC"
    "gNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg6"
    "65xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRW"
    "yuXpoQ"
)
RSA_D = (
    "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pW"
    "J1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2Qv"
    "Xt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRu"
    "OopznQ"
)
RSA_SIG = (
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t"
    "1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12j"
    "zDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQ"
    "Ge77Rw"
)
# RFC 7515 A.3
EC_X, EC_Y = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
EC_D = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
EC_SIG = "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
# RFC 8037 A.1 and A.4
ED_D, ED_X = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
ED_INPUT = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
ED_SIG = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"


def rsa_key() -> rsa.RSAPrivateKey:
    n, e, d = num(RSA_N), 65537, num(RSA_D)
    p, q = rsa.rsa_recover_prime_factors(n, e, d)
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q), rsa.RSAPublicNumbers(e, n)
    )
    key = numbers.private_key()
    signed = key.sign(("eyJhbGciOiJSUzI1NiJ9." + PAYLOAD).encode(), padding.PKCS1v15(), hashes.SHA256())
    assert signed == b64d(RSA_SIG), "RFC 7515 A.2 signature not reproduced"
    return key


def ec_key() -> ec.EllipticCurvePrivateKey:
    key = ec.derive_private_key(num(EC_D), ec.SECP256R1())
    public = key.public_key().public_numbers()
    assert (public.x, public.y) == (num(EC_X), num(EC_Y)), "RFC 7515 A.3 public key not reproduced"
    raw = b64d(EC_SIG)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.public_key().verify(der, ("eyJhbGciOiJFUzI1NiJ9." + PAYLOAD).encode(), ec.ECDSA(hashes.SHA256()))
    return key


def ed_key() -> ed25519.Ed25519PrivateKey:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(b64d(ED_D))
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert raw == b64d(ED_X), "RFC 8037 A.1 public key not reproduced"
    assert key.sign(ED_INPUT.encode()) == b64d(ED_SIG), "RFC 8037 A.4 signature not reproduced"
    return key


def pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


if __name__ == "__main__":
    for name, key in [("RFC 7515 A.2 (RS256)", rsa_key()), ("RFC 7515 A.3 (ES256)", ec_key()), ("RFC 8037 A.1 (EdDSA)", ed_key())]:
        print(f"// {name}\n{pem(key)}")
