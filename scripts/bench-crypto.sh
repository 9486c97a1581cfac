#!/usr/bin/env bash
# Compares token-broker's JWS sign/verify throughput with `openssl speed` on this machine.
#
#   scripts/bench-crypto.sh            (from anywhere; it works from the repo root)
#
# 1. `openssl speed -seconds 3 -elapsed ecdsap256 rsa2048 ed25519` (single process, -mr for parsing).
# 2. The JOSEBenchmarks suite (Benchmarks/ package, release build) exported as JMH JSON.
# 3. One table: algorithm, operation, token-broker ops/s, openssl ops/s, ratio, target.
# It is a report, not a test: it exits 0 whatever the ratios (non-zero only if something fails to run).
# Needs: openssl, jq, swift (Benchmarks/ resolves ordo-one/benchmark).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v jq >/dev/null; then
    echo "bench-crypto: installing jq" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- header -------------------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "bench-crypto: $(date -u '+%Y-%m-%d %H:%M:%S UTC') | nproc $(nproc) | CPU ${cpu:-unknown} | $(openssl version | awk '{print $1, $2}') | load avg $(cut -d' ' -f1-3 /proc/loadavg) at start"

# --- (a) openssl speed ----------------------------------------------------------------------------
echo "running openssl speed (about 20 s)..." >&2
openssl speed -mr -seconds 3 -elapsed ecdsap256 rsa2048 ed25519 >"$work/speed.txt" 2>"$work/speed.err" || {
    cat "$work/speed.err" >&2; exit 1; }
# Machine-readable lines: +F2:idx:bits:sign/s:verify/s (RSA), +F4:idx:bits:sign/s:verify/s (ECDSA),
# +F6:idx:bits:name:sign/s:verify/s (EdDSA).
declare -A ossl
while IFS=: read -r tag _ bits a b c; do
    case "$tag" in
        +F2) [[ $bits == 2048 ]] && { ossl[rsa2048.sign]=$a; ossl[rsa2048.verify]=$b; } ;;
        +F4) [[ $bits == 256 ]] && { ossl[ecdsap256.sign]=$a; ossl[ecdsap256.verify]=$b; } ;;
        +F6) [[ $a == Ed25519 ]] && { ossl[ed25519.sign]=$b; ossl[ed25519.verify]=$c; } ;;
    esac
done <"$work/speed.txt"
for k in ecdsap256.sign ecdsap256.verify rsa2048.sign rsa2048.verify ed25519.sign ed25519.verify; do
    [[ -n ${ossl[$k]:-} ]] || { echo "bench-crypto: no '$k' result from openssl speed:" >&2; cat "$work/speed.txt" >&2; exit 1; }
done

# --- (b) Swift benchmarks -------------------------------------------------------------------------
echo "building and running Benchmarks/ JOSEBenchmarks (release; a few minutes when cold)..." >&2
if ! swift package --package-path Benchmarks --scratch-path Benchmarks/.build-bench \
    benchmark --target JOSEBenchmarks --format jmh --path stdout --no-progress >"$work/jmh.out" 2>"$work/bench.log"; then
    tail -40 "$work/bench.log" >&2
    exit 1
fi
# stdout also carries notes from the plugin; the JMH document is the line that starts with '['.
# Each sample is one operation (scalingFactor .one), so throughput percentiles are ops/s.
grep '^\[' "$work/jmh.out" | jq -r '.[] |
    [ (.benchmark | sub("^.*\\."; "") | sub("_"; " ")),
      .primaryMetric.scorePercentiles["50.0"],
      (1000000 / .secondaryMetrics["Time (wall clock)"].score),
      .secondaryMetrics["Malloc (total)"].scorePercentiles["50.0"] ] | @tsv' >"$work/tb.tsv"
declare -A tb tbmean tbmalloc
while IFS=$'\t' read -r name p50 mean mallocs; do
    tb[$name]=$p50; tbmean[$name]=$mean; tbmalloc[$name]=$mallocs
done <"$work/tb.tsv"

# --- (c) table ------------------------------------------------------------------------------------
row() { # alg op benchmark-name openssl-key target%
    local alg=$1 op=$2 name=$3 key=$4 target=${5:-}
    local ours=${tb[$name]:-} ref=${ossl[$key]} verdict="-"
    if [[ -z $ours ]]; then
        printf '%-6s %-7s %14s %14s %14.0f %12s %8s %7s  %s\n' "$alg" "$op" "missing" "-" "$ref" "$key" "-" "-" "-"
        return
    fi
    local ratio
    ratio=$(awk -v a="$ours" -v b="$ref" 'BEGIN { printf "%.1f", 100 * a / b }')
    if [[ -n $target ]]; then
        if awk -v r="$ratio" -v t="$target" 'BEGIN { exit !(r >= t) }'; then verdict=">=$target% PASS"
        else verdict=">=$target% FAIL ($(awk -v r="$ratio" -v t="$target" 'BEGIN { printf "%.1f", t - r }') pts short)"; fi
    fi
    printf '%-6s %-7s %14.0f %14.0f %14.0f %12s %8s %7.0f  %s\n' "$alg" "$op" "$ours" "${tbmean[$name]}" "$ref" "$key" "$ratio" \
        "${tbmalloc[$name]}" "$verdict"
}

echo
printf '%-6s %-7s %14s %14s %14s %12s %8s %7s  %s\n' \
    "alg" "op" "tb ops/s p50" "tb ops/s mean" "openssl ops/s" "(speed alg)" "ratio %" "mallocs" "target"
printf '%s\n' "$(printf '%.0s-' {1..110})"
row ES256 sign   "sign ES256"   ecdsap256.sign   80
row ES256 verify "verify ES256" ecdsap256.verify 80
row RS256 sign   "sign RS256"   rsa2048.sign
row RS256 verify "verify RS256" rsa2048.verify   80
row KC-RS verify "verify KeycloakRS256" rsa2048.verify 80
row PS256 sign   "sign PS256"   rsa2048.sign
row PS256 verify "verify PS256" rsa2048.verify
row EdDSA sign   "sign EdDSA"   ed25519.sign
row EdDSA verify "verify EdDSA" ed25519.verify
echo
echo "KC-RS = a Keycloak access token (RS256, Keycloak's header, ~700 B of claims) through the JWKS cache: one pass (header, key by kid, signature, claims parse), then the claims and issuer checks."
echo "ratio = token-broker p50 ops/s / openssl speed ops/s (single thread; openssl = count / elapsed wall time over 3 s; 'mean' = 1 / mean wall clock per op; mallocs = p50 per op)."
echo "Note: token-broker sign includes claims JSON serialization, header encoding, base64url and SHA-256 of the signing input (verify adds parsing and a kid lookup), while openssl speed signs/verifies a raw 20/32-byte digest (PS256 is compared with PKCS#1 v1.5 rsa2048)."
echo "load avg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
