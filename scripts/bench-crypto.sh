#!/usr/bin/env bash
# Compares token-broker's JWS sign/verify throughput with `openssl speed` on this machine.
#
#   scripts/bench-crypto.sh            (from anywhere; it works from the repo root)
#
# Method. Both sides are measured the same way: one thread runs the operation in a tight loop and the
# rate is operations per second of CPU time (`openssl speed` without `-elapsed`; `jose-speed`, the
# Benchmarks/ executable that runs the JOSEFixtures operations, counts its thread's CPU time). CPU time
# rather than wall time, because on a shared virtual machine wall time also counts time the host gave to
# someone else. The two are run in alternation, ROUNDS times (default 5), SECONDS each (default 2), and
# each row's ratio is the median of the per-round ratios: a ratio taken from two runs minutes apart
# would mostly measure how the machine's speed drifted in between.
# Then the ordo-one JOSEBenchmarks suite (one operation per sample) adds p50 latency and mallocs per op.
# One table: algorithm, operation, token-broker ops/s, openssl ops/s (medians), ratio (median and the
# range over rounds), target, p50 µs and mallocs from ordo-one.
# (b) The RSA verifications again, interleaved in one process with the EVP calls `openssl speed rsa2048`
# times (jose-speed pair): the host drifts by tens of percent between runs seconds apart, so these ratios
# pair figures taken within a second of each other. The reference's own rate is printed beside openssl
# speed's, to show the two measure the same thing.
# It is a report, not a test: it exits 0 whatever the ratios (non-zero only if something fails to run).
# Needs: openssl, jq, swift (Benchmarks/ resolves ordo-one/benchmark).
# Settings (environment): BENCH_ROUNDS (5), BENCH_SECONDS (2), BENCH_PAIR_ROUNDS (12),
# BENCH_SKIP_ORDO (unset; 1 = skip ordo-one).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS=${BENCH_ROUNDS:-5}
SECONDS_PER_RUN=${BENCH_SECONDS:-2}
if ! command -v jq >/dev/null; then
    echo "bench-crypto: installing jq" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- header -------------------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "bench-crypto: $(date -u '+%Y-%m-%d %H:%M:%S UTC') | nproc $(nproc) | CPU ${cpu:-unknown} | $(openssl version | awk '{print $1, $2}') | commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown) | load avg $(cut -d' ' -f1-3 /proc/loadavg) at start"

# --- build ------------------------------------------------------------------------------------------
echo "building Benchmarks/ jose-speed (release; a few minutes when cold)..." >&2
build=(swift build -c release --package-path Benchmarks --scratch-path Benchmarks/.build-bench --product jose-speed)
if ! "${build[@]}" >"$work/build.log" 2>&1; then
    tail -40 "$work/build.log" >&2
    exit 1
fi
SPEED=$("${build[@]}" --show-bin-path 2>/dev/null)/jose-speed
[[ -x $SPEED ]] || { echo "bench-crypto: no jose-speed at $SPEED" >&2; exit 1; }

# --- rounds: openssl speed and jose-speed in alternation -------------------------------------------
# openssl's machine-readable lines: +F2:idx:bits:sign/s:verify/s (RSA), +F4:idx:bits:sign/s:verify/s (ECDSA),
# +F6:idx:bits:name:sign/s:verify/s (EdDSA). jose-speed: speed name=<op_ALG> ... ops_per_s=<CPU rate>.
pairs=("sign_ES256 ecdsap256.sign" "verify_ES256 ecdsap256.verify" "sign_RS256 rsa2048.sign" "verify_RS256 rsa2048.verify"
    "verify_KeycloakRS256 rsa2048.verify" "sign_PS256 rsa2048.sign" "verify_PS256 rsa2048.verify" "sign_EdDSA ed25519.sign"
    "verify_EdDSA ed25519.verify")
: >"$work/rounds.tsv"
for round in $(seq "$ROUNDS"); do
    echo "round $round/$ROUNDS: openssl speed, then jose-speed (about $((SECONDS_PER_RUN * 15)) s)..." >&2
    openssl speed -mr -seconds "$SECONDS_PER_RUN" ecdsap256 rsa2048 ed25519 >"$work/speed.txt" 2>"$work/speed.err" || {
        cat "$work/speed.err" >&2; exit 1; }
    "$SPEED" "$SECONDS_PER_RUN" >"$work/jose.txt" || { cat "$work/jose.txt" >&2; exit 1; }
    declare -A ossl=() ours=()
    while IFS=: read -r tag _ bits a b c; do
        case "$tag" in
            +F2) [[ $bits == 2048 ]] && { ossl[rsa2048.sign]=$a; ossl[rsa2048.verify]=$b; } ;;
            +F4) [[ $bits == 256 ]] && { ossl[ecdsap256.sign]=$a; ossl[ecdsap256.verify]=$b; } ;;
            +F6) [[ $a == Ed25519 ]] && { ossl[ed25519.sign]=$b; ossl[ed25519.verify]=$c; } ;;
        esac
    done <"$work/speed.txt"
    while read -r line; do
        name=$(grep -o 'name=[^ ]*' <<<"$line" | cut -d= -f2)
        ours[$name]=$(grep -o ' ops_per_s=[0-9]*' <<<"$line" | cut -d= -f2)
    done < <(grep '^speed ' "$work/jose.txt")
    for pair in "${pairs[@]}"; do
        read -r name key <<<"$pair"
        [[ -n ${ossl[$key]:-} ]] || { echo "bench-crypto: no '$key' result from openssl speed:" >&2; cat "$work/speed.txt" >&2; exit 1; }
        [[ -n ${ours[$name]:-} ]] || { echo "bench-crypto: no '$name' result from jose-speed:" >&2; cat "$work/jose.txt" >&2; exit 1; }
        printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$key" "${ours[$name]}" "${ossl[$key]}" >>"$work/rounds.tsv"
    done
done

# --- RSA verify interleaved in one process ---------------------------------------------------------
# `jose-speed pair`: OpenSSL's rsa2048 verify loop as `openssl speed` runs it (same EVP calls, built into
# jose-speed), then KeycloakRS256 and RS256, then the reference again, half a CPU second each, PAIR_ROUNDS
# times. Each of ours is compared with the mean of the two reference slices around it, measured within a
# second of it, instead of with an openssl speed run some seconds away.
PAIR_ROUNDS=${BENCH_PAIR_ROUNDS:-12}
echo "interleaved RSA verify: jose-speed pair 0.5 $PAIR_ROUNDS (about $((PAIR_ROUNDS * 2 + 2)) s)..." >&2
"$SPEED" pair 0.5 "$PAIR_ROUNDS" >"$work/pair.txt" 2>&1 || { cat "$work/pair.txt" >&2; exit 1; }

# --- ordo-one: p50 latency and mallocs per operation ---------------------------------------------------
declare -A p50us mallocs
if [[ -z ${BENCH_SKIP_ORDO:-} ]]; then
    echo "running Benchmarks/ JOSEBenchmarks (ordo-one) for p50 and mallocs per operation..." >&2
    if ! swift package --package-path Benchmarks --scratch-path Benchmarks/.build-bench \
        benchmark --target JOSEBenchmarks --format jmh --path stdout --no-progress >"$work/jmh.out" 2>"$work/bench.log"; then
        tail -40 "$work/bench.log" >&2
        exit 1
    fi
    # stdout also carries notes from the plugin; the JMH document is the line that starts with '['.
    while IFS=$'\t' read -r name wall malloc; do
        p50us[$name]=$wall; mallocs[$name]=$malloc
    done < <(grep '^\[' "$work/jmh.out" | jq -r '.[] |
        [ (.benchmark | sub("^.*\\."; "") | gsub(" "; "_")),
          .secondaryMetrics["Time (wall clock)"].scorePercentiles["50.0"],
          .secondaryMetrics["Malloc (total)"].scorePercentiles["50.0"] ] | @tsv')
fi

# --- table -----------------------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
row() { # label op name key target%
    local label=$1 op=$2 name=$3 key=$4 target=${5:-} ours ref ratio low high verdict="-"
    ours=$(awk -F'\t' -v n="$name" '$2 == n { print $4 }' "$work/rounds.tsv" | median)
    ref=$(awk -F'\t' -v n="$name" '$2 == n { print $5 }' "$work/rounds.tsv" | median)
    ratio=$(awk -F'\t' -v n="$name" '$2 == n { print 100 * $4 / $5 }' "$work/rounds.tsv" | median)
    low=$(awk -F'\t' -v n="$name" '$2 == n { print 100 * $4 / $5 }' "$work/rounds.tsv" | sort -g | head -1)
    high=$(awk -F'\t' -v n="$name" '$2 == n { print 100 * $4 / $5 }' "$work/rounds.tsv" | sort -g | tail -1)
    if [[ -n $target ]]; then
        if awk -v r="$ratio" -v t="$target" 'BEGIN { exit !(r >= t) }'; then verdict=">=$target% PASS"
        else verdict=">=$target% FAIL ($(awk -v r="$ratio" -v t="$target" 'BEGIN { printf "%.1f", t - r }') pts short)"; fi
    fi
    printf '%-6s %-7s %12.0f %14.0f %12s %8.1f %13s %8s %8s  %s\n' "$label" "$op" "$ours" "$ref" "$key" "$ratio" \
        "$(printf '%.1f-%.1f' "$low" "$high")" "${p50us[$name]:--}" "${mallocs[$name]:--}" "$verdict"
}

echo
printf '%-6s %-7s %12s %14s %12s %8s %13s %8s %8s  %s\n' \
    "alg" "op" "tb ops/s" "openssl ops/s" "(speed alg)" "ratio %" "ratio range" "p50 us" "mallocs" "target"
printf '%s\n' "$(printf '%.0s-' {1..118})"
row ES256 sign   sign_ES256           ecdsap256.sign   80
row ES256 verify verify_ES256         ecdsap256.verify 80
row RS256 sign   sign_RS256           rsa2048.sign
row RS256 verify verify_RS256         rsa2048.verify   80
row KC-RS verify verify_KeycloakRS256 rsa2048.verify   80
row PS256 sign   sign_PS256           rsa2048.sign
row PS256 verify verify_PS256         rsa2048.verify
row EdDSA sign   sign_EdDSA           ed25519.sign
row EdDSA verify verify_EdDSA         ed25519.verify
echo
echo "(b) RSA verify interleaved in one process (jose-speed pair 0.5 $PAIR_ROUNDS): ours / OpenSSL's rsa2048 verify loop, round by round"
reference=$(grep '^pair round=' "$work/pair.txt" | sed -E 's/.*reference_ops_per_s=([0-9]+)\/([0-9]+).*/\1\n\2/' | median)
printf '  reference (the EVP calls openssl speed times): %.0f verify/s median; openssl speed rsa2048 in (a): %s verify/s median\n' \
    "$reference" "$(awk -F'\t' '$2 == "verify_RS256" { print $5 }' "$work/rounds.tsv" | median | awk '{ printf "%.0f", $1 }')"
pair_row() { # label field target
    local line ratio low high
    line=$(grep '^pair median ' "$work/pair.txt")
    ratio=$(sed -E "s/.*ratio_$2=([0-9.]+) min=([0-9.]+) max=([0-9.]+).*/\1/" <<<"$line")
    low=$(sed -E "s/.*ratio_$2=([0-9.]+) min=([0-9.]+) max=([0-9.]+).*/\2/" <<<"$line")
    high=$(sed -E "s/.*ratio_$2=([0-9.]+) min=([0-9.]+) max=([0-9.]+).*/\3/" <<<"$line")
    if awk -v r="$ratio" -v t="$3" 'BEGIN { exit !(r >= t) }'; then verdict=">=$3% PASS"
    else verdict=">=$3% FAIL ($(awk -v r="$ratio" -v t="$3" 'BEGIN { printf "%.1f", t - r }') pts short)"; fi
    printf '  %-13s ratio %5.1f %%  (rounds %s-%s %%)  %s\n' "$1" "$ratio" "$low" "$high" "$verdict"
}
pair_row "KC-RS verify" KeycloakRS256 80
pair_row "RS256 verify" RS256 80
echo
echo "KC-RS = a Keycloak access token (RS256, Keycloak's header, ~700 B of claims) through the JWKS cache: one pass (header, key by kid, signature, claims parse), then the claims and issuer checks."
echo "ops/s = operations per CPU second of one thread, median over $ROUNDS rounds of ${SECONDS_PER_RUN} s; ratio = median of the per-round ratios token-broker / openssl (each round runs openssl speed, then jose-speed); p50 us and mallocs = ordo-one JOSEBenchmarks, per operation."
echo "Note: token-broker sign includes claims JSON serialization, header encoding, base64url and SHA-256 of the signing input (verify adds parsing and a kid lookup), while openssl speed signs/verifies a raw 20/32-byte digest (PS256 is compared with PKCS#1 v1.5 rsa2048)."
echo "load avg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
