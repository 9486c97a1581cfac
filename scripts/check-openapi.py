#!/usr/bin/env python3
"""Check the OpenAPI document of token-broker.

Usage: check-openapi.py [PATH]   (default: Sources/Broker/Resources/openapi.yaml
                                  under the repository root)

Checks that the document is valid OpenAPI 3.1, that every operation of the
HTTP contract exists, that every response declares an X-Request-Id header and
that every operation says whether it is implemented (`x-implemented`, a
boolean). Prints one summary line and exits 0, or prints each problem and
exits 1. Needs PyYAML and openapi-spec-validator.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from openapi_spec_validator import validate

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = REPO_ROOT / "Sources" / "Broker" / "Resources" / "openapi.yaml"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Every operation of the HTTP contract (the project's spec, api.md).
REQUIRED_OPERATIONS: list[tuple[str, str]] = [
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/.well-known/oauth-authorization-server"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/v1/login"),
    ("POST", "/v1/login/refresh"),
    ("POST", "/v1/logout"),
    ("POST", "/v1/tenants/{tenantId}/login"),
    ("POST", "/v1/tenants/{tenantId}/login/otp"),
    ("POST", "/v1/tenants/{tenantId}/login/otp/resend"),
    ("POST", "/v1/tenants/{tenantId}/otp"),
    ("POST", "/v1/tenants/{tenantId}/otp/{challengeId}/verify"),
    ("POST", "/v1/tenants/{tenantId}/token"),
    ("POST", "/oauth2/token"),
    ("GET", "/v1/verify"),
    ("POST", "/oauth2/introspect"),
    ("POST", "/oauth2/revoke"),
    ("POST", "/v1/tenants"),
    ("GET", "/v1/tenants"),
    ("GET", "/v1/tenants/{tenantId}"),
    ("PATCH", "/v1/tenants/{tenantId}"),
    ("DELETE", "/v1/tenants/{tenantId}"),
    ("POST", "/v1/tenants/{tenantId}/suspend"),
    ("POST", "/v1/tenants/{tenantId}/resume"),
    ("GET", "/v1/dashboard/summary"),
    ("GET", "/v1/dashboard/new-tenants"),
    ("GET", "/v1/dashboard/upcoming-expiries"),
    ("POST", "/v1/api-keys"),
    ("GET", "/v1/api-keys"),
    ("DELETE", "/v1/api-keys/{id}"),
    ("GET", "/v1/audit"),
]


def resolve(doc: dict[str, Any], node: Any, problems: list[str], where: str) -> Any:
    """Follow local `$ref`s (`#/...`) until a non-reference node; None if broken."""
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            problems.append(f"{where}: cannot follow non-local $ref {ref!r}")
            return None
        if ref in seen:
            problems.append(f"{where}: $ref cycle at {ref}")
            return None
        seen.add(ref)
        target: Any = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                problems.append(f"{where}: $ref {ref} does not resolve")
                return None
            target = target[part]
        node = target
    return node


def describe(error: Exception) -> str:
    """One short line for a validator error (some messages embed the whole document)."""
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    message = message.splitlines()[0].split(" within {", 1)[0]
    if len(message) > 300:
        message = message[:300] + "..."
    location = getattr(error, "json_path", None)
    if isinstance(location, str) and location not in ("", "$"):
        message = f"{location}: {message}"
    return message


def check_operations(doc: dict[str, Any], problems: list[str]) -> int:
    """Check the contract's operations; return how many operations the document has."""
    paths = doc.get("paths")
    if not isinstance(paths, dict):
        problems.append("document has no paths object")
        return 0

    present: set[tuple[str, str]] = set()
    count = 0
    for path, item in paths.items():
        item = resolve(doc, item, problems, f"paths[{path}]")
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            count += 1
            where = f"{method.upper()} {path}"
            present.add((method.upper(), str(path)))
            if not isinstance(op, dict):
                problems.append(f"{where}: operation is not an object")
                continue

            if "x-implemented" not in op:
                problems.append(f"{where}: x-implemented is missing")
            elif not isinstance(op["x-implemented"], bool):
                problems.append(
                    f"{where}: x-implemented must be a boolean, not {op['x-implemented']!r}"
                )

            responses = op.get("responses")
            if not isinstance(responses, dict) or not responses:
                problems.append(f"{where}: no responses")
                continue
            for status, response in responses.items():
                rwhere = f"{where} response {status}"
                response = resolve(doc, response, problems, rwhere)
                if not isinstance(response, dict):
                    continue
                headers = response.get("headers") or {}
                names = {str(name).lower(): value for name, value in headers.items()}
                header = names.get("x-request-id")
                if header is None:
                    problems.append(f"{rwhere}: no X-Request-Id header")
                elif resolve(doc, header, problems, f"{rwhere} X-Request-Id") is None:
                    pass  # already reported as a broken $ref

    for method, path in REQUIRED_OPERATIONS:
        if (method, path) not in present:
            problems.append(f"{method} {path}: operation is missing")
    return count


def main(argv: list[str]) -> int:
    if len(argv) > 2:
        print(f"usage: {Path(argv[0]).name} [openapi.yaml]", file=sys.stderr)
        return 2
    path = Path(argv[1]) if len(argv) == 2 else DEFAULT_PATH

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        print(f"openapi: cannot read {path}: {error.strerror or error}")
        return 1
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as error:
        print(f"openapi: {path} is not valid YAML: {error}")
        return 1
    if not isinstance(doc, dict):
        print(f"openapi: {path} is not a YAML mapping")
        return 1

    problems: list[str] = []
    version = str(doc.get("openapi", ""))
    if not version.startswith("3.1."):
        problems.append(f"openapi version is {version!r}, expected 3.1.x")
    try:
        validate(doc)
    except Exception as error:  # the validator raises several exception types
        problems.append(f"not a valid OpenAPI document: {describe(error)}")

    count = check_operations(doc, problems)

    if problems:
        for problem in problems:
            print(f"openapi: {problem}")
        print(f"openapi: {len(problems)} problem(s) in {path}")
        return 1
    print(f"openapi: {count} operations, all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
