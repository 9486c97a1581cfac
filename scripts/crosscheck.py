#!/usr/bin/env python3
"""Cross-checks token-broker's JOSE layer against two independent implementations, PyJWT and joserfc.

  crosscheck.py verify --jwks-url URL --cases FILE
      FILE is JSON: [{"name", "alg", "token", "issuer", "audience"}]. Each token is verified by both
      libraries against the JWKS fetched over HTTP from URL (signature, alg, iss, aud, exp).
      Prints JSON: [{"name", "pyjwt": "ok" | "error: ...", "joserfc": "ok" | "error: ..."}].

  crosscheck.py sign
      Generates one key per algorithm (ES256, RS256, PS256, EdDSA), signs a cx-tenant-shaped token with
      each library, and prints JSON: {"jwks": {...}, "tokens": [{"name", "alg", "lib", "token"}]}.

Exit status 0 when the command ran (the verdicts are in the output), 2 on usage errors.
"""
import argparse
import json
import sys
import time
import urllib.request

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt as jjwt
from joserfc.jwk import KeySet, import_key
from joserfc.jwt import JWTClaimsRegistry

ALGS = ["ES256", "RS256", "PS256", "EdDSA"]


def fetch_jwks(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def verify_pyjwt(token, alg, jwks, issuer, audience):
    header = pyjwt.get_unverified_header(token)
    matches = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
    if len(matches) != 1:
        raise ValueError("kid not found in JWKS")
    key = pyjwt.PyJWK(matches[0]).key
    pyjwt.decode(token, key, algorithms=[alg], issuer=issuer, audience=audience,
                 options={"require": ["exp", "iat", "iss", "aud"]})


def verify_joserfc(token, alg, jwks, issuer, audience):
    key_set = KeySet.import_key_set(jwks)
    decoded = jjwt.decode(token, key_set, algorithms=[alg])
    registry = JWTClaimsRegistry(iss={"essential": True, "value": issuer},
                                 aud={"essential": True, "value": audience},
                                 exp={"essential": True})
    registry.validate(decoded.claims)


def run_verify(args):
    jwks = fetch_jwks(args.jwks_url)
    with open(args.cases) as handle:
        cases = json.load(handle)
    results = []
    for case in cases:
        verdicts = {"name": case["name"]}
        for label, check in (("pyjwt", verify_pyjwt), ("joserfc", verify_joserfc)):
            try:
                check(case["token"], case["alg"], jwks, case["issuer"], case["audience"])
                verdicts[label] = "ok"
            except Exception as error:  # every failure is a verdict, not a crash
                verdicts[label] = "error: %s: %s" % (type(error).__name__, error)
        results.append(verdicts)
    json.dump(results, sys.stdout)
    return 0


def generate(alg):
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg in ("RS256", "PS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ed25519.Ed25519PrivateKey.generate()


def run_sign(_args):
    now = int(time.time())
    claims = {"iss": "https://peer.test", "sub": "peer", "aud": "https://tenant1.expertflow.com",
              "iat": now, "nbf": now, "exp": now + 600, "tenant_id": "tenant1", "jti": "peer-1"}
    keys, tokens = [], []
    for alg in ALGS:
        private = generate(alg)
        for lib in ("pyjwt", "joserfc"):
            kid = "%s-%s" % (lib, alg)
            jwk = json.loads(pyjwt.algorithms.get_default_algorithms()[alg].to_jwk(private.public_key()))
            jwk.update({"kid": kid, "alg": alg, "use": "sig"})
            keys.append(jwk)
            if lib == "pyjwt":
                token = pyjwt.encode(claims, private, algorithm=alg, headers={"kid": kid, "typ": "at+jwt"})
            else:
                private_jwk = json.loads(pyjwt.algorithms.get_default_algorithms()[alg].to_jwk(private))
                key = import_key(private_jwk)
                token = jjwt.encode({"alg": alg, "kid": kid, "typ": "at+jwt"}, claims, key, algorithms=[alg])
            tokens.append({"name": kid, "alg": alg, "lib": lib, "token": token})
    json.dump({"jwks": {"keys": keys}, "tokens": tokens}, sys.stdout)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify")
    verify.add_argument("--jwks-url", required=True)
    verify.add_argument("--cases", required=True)
    commands.add_parser("sign")
    args = parser.parse_args()
    return run_verify(args) if args.command == "verify" else run_sign(args)


if __name__ == "__main__":
    sys.exit(main())
