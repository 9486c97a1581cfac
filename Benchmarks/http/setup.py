#!/usr/bin/env python3
"""Setup for scripts/bench-http.sh (not measured): creates tenants and mints tokens over HTTP.

    setup.py tenants --port P --key KEY --count 10000 [--workers 8]
        POST /v1/tenants for t00001 .. t<count> (minimal body, 2FA off); every answer must be 201.
    setup.py subtenants --port P --key KEY --count 10 --tenants 10000 [--workers 8]
        POST /v1/tenants/<tenant>/subtenants for s01 .. s<count> of every tenant; every answer must be 201.
    setup.py tokens --port P --key KEY --tenants 10000 --count 20000 --out FILE [--ttl 3600] [--workers 8]
        POST /v1/tenants/<random tenant>/token; writes "<tenant>.<base domain> <token>" lines.

Only 127.0.0.1. Standard library only: a thread pool, one keep-alive connection per thread.
Exits non-zero (with the first failures) if any request does not get the expected status.
"""
import argparse
import http.client
import json
import random
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

local = threading.local()


def call(port, method, path, key, body):
    """One request on this thread's keep-alive connection (reconnects once if the server closed it)."""
    data = json.dumps(body).encode()
    headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    for attempt in (1, 2):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        except (http.client.HTTPException, ConnectionError):
            conn.close()
            local.conn = None
            if attempt == 2:
                raise


def run(jobs, workers, work):
    failures = []
    results = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for ok, value in pool.map(work, jobs, chunksize=64):
            (results if ok else failures).append(value)
    if failures:
        print(f"setup.py: {len(failures)} of {len(jobs)} requests failed; first: {failures[:3]}", file=sys.stderr)
        sys.exit(1)
    return results


def tenants(args):
    def create(i):
        tenant = f"t{i:05d}"
        body = {"tenantId": tenant, "keycloak": {"realm": tenant, "clientId": "cx-portal"}, "twoFAConfig": {"isEnabled": False}}
        status, text = call(args.port, "POST", "/v1/tenants", args.key, body)
        return (True, tenant) if status == 201 else (False, f"{tenant}: {status} {text[:200]!r}")

    run(list(range(1, args.count + 1)), args.workers, create)


def subtenants(args):
    def create(job):
        tenant, sub = f"t{job[0]:05d}", f"s{job[1]:02d}"
        status, text = call(args.port, "POST", f"/v1/tenants/{tenant}/subtenants", args.key, {"subtenantId": sub})
        return (True, sub) if status == 201 else (False, f"{tenant}/{sub}: {status} {text[:200]!r}")

    run([(t, s) for t in range(1, args.tenants + 1) for s in range(1, args.count + 1)], args.workers, create)


def tokens(args):
    rng = random.Random(args.seed)
    picks = [rng.randint(1, args.tenants) for _ in range(args.count)]

    def mint(i):
        tenant = f"t{i:05d}"
        status, text = call(args.port, "POST", f"/v1/tenants/{tenant}/token", args.key, {"ttl": args.ttl})
        if status != 200:
            return False, f"{tenant}: {status} {text[:200]!r}"
        answer = json.loads(text)
        return True, (answer["tenant_domain"], answer["access_token"])

    lines = run(picks, args.workers, mint)
    if len({token for _, token in lines}) != len(lines):
        print("setup.py: minted tokens are not all distinct", file=sys.stderr)
        sys.exit(1)
    with open(args.out, "w") as out:
        for domain, token in lines:
            out.write(f"{domain} {token}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("tenants", "subtenants", "tokens"):
        p = sub.add_parser(name)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--key", required=True)
        p.add_argument("--count", type=int, required=True)
        p.add_argument("--workers", type=int, default=8)
        if name == "subtenants":
            p.add_argument("--tenants", type=int, required=True)
        if name == "tokens":
            p.add_argument("--tenants", type=int, required=True)
            p.add_argument("--out", required=True)
            p.add_argument("--ttl", type=int, default=3600)
            p.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    {"tenants": tenants, "subtenants": subtenants, "tokens": tokens}[args.command](args)


if __name__ == "__main__":
    main()
