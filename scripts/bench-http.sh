#!/usr/bin/env bash
# HTTP throughput report of the running broker: minting, forward-auth verification, introspection.
#
#   scripts/bench-http.sh          (from anywhere; it works from the repo root)
#
# 1. Installs wrk (and jq, curl) with apt-get when missing.
# 2. Builds the release binary into .build-release (git-ignored; several minutes when cold).
# 3. Waits (up to BENCH_WAIT_MAX s, default 1200) while another benchmark runs on this machine
#    (bench-registry, JOSEBenchmarks, RegistryBenchmarks, openssl speed), then, in a temporary folder:
#    an admin API key, `serve` on a free 127.0.0.1 port (SQLite store, fresh ES256 key), 10,000 tenants
#    created over HTTP, one token for t00001 and 20,000 distinct tokens for random tenants (setup with
#    Benchmarks/http/setup.py, timed, not measured).
# 4. wrk with the Lua scripts of Benchmarks/http/ (each counts non-2xx answers), one run per scenario:
#    mint, verify (cached token), verify (20k distinct tokens: one pass of cache misses, then cycling),
#    introspection, and /healthz as the ceiling of the HTTP stack; then the cached verification again at
#    8, 16, 32 and 64 connections (BENCH_SWEEP_CONNECTIONS, BENCH_SWEEP_DURATION 8s), since its target
#    pairs a throughput with a latency bound and latency at saturation grows with the connection count.
#    Then the broker is restarted with --event-loop-threads 1 (same store, keys, port) and the cached
#    verification and its sweep run again: with the default, two busy server threads and wrk share 2 cores.
# 5. One table: scenario, req/s, p50, p99, non-2xx, CPU per request of the broker and of wrk, CPU of
#    other processes during the run, target, verdict; then the reference figures and notes.
# All traffic goes to 127.0.0.1 only. It is a report, not a test: it exits 0 whatever the verdicts
# (non-zero only if something fails to run). The server is stopped and the folder removed on exit.
#
# Settings (environment): WRK_THREADS (1), WRK_CONNECTIONS (32), WRK_DURATION (15s), BENCH_TENANTS
# (10000), BENCH_SUBTENANTS (subtenants per tenant, 10; 0 = none), BENCH_TOKENS (20000),
# BENCH_WAIT_MAX (1200 seconds; 0 = do not wait).
# With subtenants, (a) and (b) run again for subtenant tokens (a random subtenant per mint; one
# subtenant's token for the cached verification), each right after its tenant-token run; and since one run
# of each moves by 10-20 % between runs on this host, the verdict on the ratio (goal >= 0.95) comes from
# BENCH_PAIRS (6, even) pairs of shorter runs (BENCH_PAIR_DURATION, 5s), the order swapped in every other
# pair (tenant, subtenant, subtenant, tenant, ...): each pair's own ratio (its two runs are adjacent in time, so
# most of the host's slower drift cancels), and the verdict from blocks of two pairs, one of each order (ABBA):
# a block's ratio is the geometric mean of its two pairs' ratios, which cancels an order effect (the first run
# of a pair was favoured by a few per cent on this host) whatever its size. The verdict is the blocks' median.
# BENCH_PAIRS_ONLY=1 runs only the pairs (no single runs, sweeps or restart) and reports only them.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
THREADS=${WRK_THREADS:-1}
CONNECTIONS=${WRK_CONNECTIONS:-32}
DURATION=${WRK_DURATION:-15s}
TENANTS=${BENCH_TENANTS:-10000}
TOKENS=${BENCH_TOKENS:-20000}
SUBTENANTS=${BENCH_SUBTENANTS:-10}
PAIR_DURATION=${BENCH_PAIR_DURATION:-5s}
PAIRS=${BENCH_PAIRS:-6}
[[ $PAIRS =~ ^[1-9][0-9]*$ ]] && ((PAIRS % 2 == 0)) || { echo "bench-http: BENCH_PAIRS must be an even whole number from 2 (blocks of two pairs, one of each order)" >&2; exit 1; }
PAIRS_ONLY=${BENCH_PAIRS_ONLY:-0}
[[ $PAIRS_ONLY != 1 ]] || ((SUBTENANTS > 0)) || { echo "bench-http: BENCH_PAIRS_ONLY=1 needs subtenants (BENCH_SUBTENANTS > 0)" >&2; exit 1; }
WAIT_MAX=${BENCH_WAIT_MAX:-1200}
SCRATCH=$ROOT/.build-release
LUA=$ROOT/Benchmarks/http
OTHER_BENCHMARKS="bench-registry|JOSEBenchmarks|RegistryBenchmarks|openssl speed"

log() { echo "bench-http: $*" >&2; }
die() { log "$*"; exit 1; }

# --- 1. tools --------------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
    log "installing ${missing[*]} (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v python3 >/dev/null || die "python3 is needed for the setup (Benchmarks/http/setup.py)"

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 2. release build -------------------------------------------------------------------------------
log "building token-broker (release, $SCRATCH; several minutes when cold)..."
build=(swift build -c release --product token-broker --scratch-path "$SCRATCH")
if ! "${build[@]}" >"$work/build.log" 2>&1; then
    tail -40 "$work/build.log" >&2
    die "release build failed"
fi
BIN=$("${build[@]}" --show-bin-path 2>/dev/null)/token-broker
[[ -x $BIN ]] || die "no binary at $BIN"

# --- 3. wait for other benchmarks, then the server -------------------------------------------------
waited=0
wait_note=""
# Other benchmark processes, leaving out this script's own ancestors: a shell that runs several benchmark
# scripts in a row (bash -c '...bench-registry.sh; ...bench-http.sh') has their names in its command line.
ancestors() {
    local pid=$$
    while [[ -n $pid && $pid -gt 1 ]]; do
        echo "$pid"
        pid=$(ps -o ppid= -p "$pid" | tr -d ' ')
    done
}
other_benchmarks() { pgrep -f "$OTHER_BENCHMARKS" | grep -vxF -f <(ancestors); }
while other_benchmarks >/dev/null; do
    if ((waited >= WAIT_MAX)); then
        wait_note="another benchmark was still running after ${waited}s of waiting; figures are disturbed"
        log "$wait_note"
        break
    fi
    ((waited == 0)) && log "another benchmark is running ($(other_benchmarks | head -3 | tr '\n' ' ')); waiting (max ${WAIT_MAX}s)..."
    sleep 20
    waited=$((waited + 20))
done
((waited > 0)) && log "waited ${waited}s for other benchmarks"

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
wrk_version=$(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }' || true)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- Sources Package.swift 2>/dev/null || commit="$commit + uncommitted changes in Sources/"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

DB="sqlite:$work/broker.sqlite"
mkdir -p "$work/keys"
KEY=$("$BIN" api-keys create --name bench --scopes admin --tenants '*' --database "$DB" --create 2>"$work/apikey.log") \
    || { cat "$work/apikey.log" >&2; die "api-keys create failed"; }
KEY=$(printf '%s\n' "$KEY" | grep -o 'tbk_[a-z0-9]*_[^[:space:]]*' | head -1) || die "api-keys create printed no key"
# HTTP Basic client authentication: user tbk_<id>, password <secret> (split at the second underscore).
client_id=${KEY%%_*}_$(cut -d_ -f2 <<<"$KEY")
client_secret=${KEY#"$client_id"_}
BASIC=$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
start_server() { # [extra serve flags...]: serve on $PORT (same store and keys each time), wait for /healthz
    (cd "$work" && exec "$BIN" serve --host 127.0.0.1 --port "$PORT" --database "$DB" --keys-dir "$work/keys" \
        --log-level warning "$@" >>"$work/serve.log" 2>&1) &
    server_pid=$!
    for _ in $(seq 150); do
        curl -fsS -o /dev/null "$URL/healthz" 2>/dev/null && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; die "serve exited at start-up"; }
        sleep 0.2
    done
    curl -fsS -o /dev/null "$URL/healthz" || { cat "$work/serve.log" >&2; die "no /healthz after 30 s"; }
    log "serve is up on $URL (pid $server_pid) $*"
}
stop_server() {
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
server_alive() { kill -0 "$server_pid" 2>/dev/null || { tail -40 "$work/serve.log" >&2; die "the server died"; }; }
start_server

# --- setup: tenants and tokens (timed, not measured) ------------------------------------------------
t0=$(date +%s.%N)
python3 "$LUA/setup.py" tenants --port "$PORT" --key "$KEY" --count "$TENANTS" --workers 8 || die "creating tenants failed"
t1=$(date +%s.%N)
tenant_seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
tenant_rate=$(awk -v s="$tenant_seconds" -v n="$TENANTS" 'BEGIN { printf "%.0f", n / s }')
log "created $TENANTS tenants in ${tenant_seconds}s ($tenant_rate/s, 8 concurrent clients, each a durable SQLite transaction)"

subtenant_note="no subtenants"
if ((SUBTENANTS > 0)); then
    s0=$(date +%s.%N)
    python3 "$LUA/setup.py" subtenants --port "$PORT" --key "$KEY" --count "$SUBTENANTS" --tenants "$TENANTS" --workers 8 \
        || die "creating subtenants failed"
    subtenant_seconds=$(awk -v a="$s0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    subtenant_note="$((TENANTS * SUBTENANTS)) subtenants in ${subtenant_seconds}s"
    log "created $subtenant_note"
    t1=$(date +%s.%N)
fi

python3 "$LUA/setup.py" tokens --port "$PORT" --key "$KEY" --tenants "$TENANTS" --count "$TOKENS" --ttl 3600 \
    --out "$work/tokens.txt" --workers 8 || die "minting the token file failed"
t2=$(date +%s.%N)
token_seconds=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }')
log "minted $TOKENS distinct tokens for random tenants in ${token_seconds}s"

TOKEN=$(curl -fsS -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"ttl":3600}' \
    "$URL/v1/tenants/t00001/token" | jq -er .access_token) || die "minting the token of t00001 failed"
HOST=t00001.expertflow.com
if ((SUBTENANTS > 0)); then
    SUBTOKEN=$(curl -fsS -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"ttl":3600,"subtenant":"s01"}' \
        "$URL/v1/tenants/t00001/token" | jq -er .access_token) || die "minting the token of t00001/s01 failed"
    code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $SUBTOKEN" -H "X-Forwarded-Host: $HOST" "$URL/v1/verify")
    [[ $code == 200 ]] || die "GET /v1/verify answered $code for a fresh subtenant token"
fi
# Sanity: the cached token verifies, and introspection with Basic auth says active.
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H "X-Forwarded-Host: $HOST" "$URL/v1/verify")
[[ $code == 200 ]] || die "GET /v1/verify answered $code for a fresh token"
active=$(curl -fsS -H "Authorization: Basic $BASIC" --data-urlencode "token=$TOKEN" "$URL/oauth2/introspect" | jq -r .active) \
    || die "POST /oauth2/introspect failed"
[[ $active == true ]] || die "introspection says active=$active for a fresh token"
setup_seconds=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')

# --- 4. measurements ---------------------------------------------------------------------------------
declare -A result
declare -A cpu
# CPU accounting around each run (clock ticks): the broker from /proc/<pid>/stat, wrk from this shell's
# children times (`times`, no subshell), the whole machine from /proc/stat; "other" = machine - both.
TICK=$(getconf CLK_TCK)
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
broker_cpu() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
children_cpu() { # ticks of user+sys of the finished children of this shell, from `times` run by the caller
    awk -v tick="$TICK" 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.0f", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * tick }' "$work/times"
}
run() { # name script [args...]: one wrk run; stores its BENCH line in result[name], CPU use in cpu[name]
    local name=$1 script=$2 line m0 b0 w0 t0 m1 b1 w1 t1
    shift 2
    server_alive
    log "wrk: $name (-t$THREADS -c$CONNECTIONS -d$DURATION)..."
    times >"$work/times" # in this shell: a $(...) subshell would see its own (empty) children
    m0=$(machine_busy) b0=$(broker_cpu) w0=$(children_cpu) t0=$(date +%s.%N)
    if ! wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$LUA/$script" "$URL" -- "$@" \
        >"$work/$script.out" 2>&1; then
        cat "$work/$script.out" >&2
        die "wrk failed for $name"
    fi
    times >"$work/times"
    m1=$(machine_busy) b1=$(broker_cpu) w1=$(children_cpu) t1=$(date +%s.%N)
    line=$(grep '^BENCH ' "$work/$script.out" | tail -1) || { cat "$work/$script.out" >&2; die "no BENCH line from $script"; }
    result[$name]=$line
    # broker µs of CPU per request, wrk µs per request, other processes' share of the machine (%).
    cpu[$name]=$(awk -v n="$(field "$line" requests)" -v b=$((b1 - b0)) -v w=$((w1 - w0)) -v m=$((m1 - m0)) \
        -v tick="$TICK" -v wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" -v cores="$(nproc)" 'BEGIN {
            other = m - b - w; if (other < 0) other = 0
            printf "%.0f %.0f %.0f", b / tick * 1e6 / n, w / tick * 1e6 / n, other / tick / (wall * cores) * 100 }')
    log "  $(field "$line" requests) requests, $(rps "$line") req/s, non-2xx $(field "$line" non2xx), CPU/request broker/wrk $(cut -d' ' -f1-2 <<<"${cpu[$name]}" | tr ' ' /) us, other processes $(cut -d' ' -f3 <<<"${cpu[$name]}")%"
}
field() { # line key -> value
    tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'
}
rps() { awk -v n="$(field "$1" requests)" -v d="$(field "$1" duration_us)" 'BEGIN { printf "%.0f", n / (d / 1e6) }'; }
ms() { awk -v us="$(field "$1" "$2")" 'BEGIN { printf "%.2f ms", us / 1000 }'; }

if [[ $PAIRS_ONLY != 1 ]]; then
    run mint mint.lua "$KEY" "$TENANTS"
    ((SUBTENANTS > 0)) && run mintsub mint.lua "$KEY" "$TENANTS" "$SUBTENANTS"
    run cached verify-cached.lua "$TOKEN" "$HOST"
    ((SUBTENANTS > 0)) && run cachedsub verify-cached.lua "$SUBTOKEN" "$HOST"
    run once verify-distinct.lua "$work/tokens.txt" once "$THREADS"
    run cycle verify-distinct.lua "$work/tokens.txt" cycle "$THREADS"
    run introspect introspect.lua "$BASIC" "$TOKEN"
    run healthz healthz.lua
fi
# The cached-verify target couples throughput with a latency bound, and latency at saturation is queueing:
# about connections / throughput. So (b) is also run at other connection counts (same script, shorter).
declare -A pair
pair_rps() { # script [args...]: req/s of one short run (BENCH_PAIR_DURATION)
    server_alive
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$PAIR_DURATION" --latency -s "$LUA/$1" "$URL" -- "${@:2}" >"$work/pair.out" 2>&1 \
        || { cat "$work/pair.out" >&2; die "wrk failed for a paired run of $1"; }
    local line
    line=$(grep '^BENCH ' "$work/pair.out" | tail -1) || die "no BENCH line for a paired run of $1"
    (($(field "$line" non2xx) + $(field "$line" connect) + $(field "$line" read) + $(field "$line" write) + $(field "$line" timeout) == 0)) \
        || die "a paired run of $1 had non-2xx answers or socket errors"
    rps "$line"
}
if ((SUBTENANTS > 0)); then
    for ((i = 1; i <= PAIRS; i++)); do
        log "alternating pair $i of $PAIRS (-d$PAIR_DURATION each): mint tenant / subtenant, verify tenant / subtenant token..."
        if ((i % 2)); then
            pair[mint.$i]=$(pair_rps mint.lua "$KEY" "$TENANTS")
            pair[mintsub.$i]=$(pair_rps mint.lua "$KEY" "$TENANTS" "$SUBTENANTS")
            pair[cached.$i]=$(pair_rps verify-cached.lua "$TOKEN" "$HOST")
            pair[cachedsub.$i]=$(pair_rps verify-cached.lua "$SUBTOKEN" "$HOST")
        else
            pair[mintsub.$i]=$(pair_rps mint.lua "$KEY" "$TENANTS" "$SUBTENANTS")
            pair[mint.$i]=$(pair_rps mint.lua "$KEY" "$TENANTS")
            pair[cachedsub.$i]=$(pair_rps verify-cached.lua "$SUBTOKEN" "$HOST")
            pair[cached.$i]=$(pair_rps verify-cached.lua "$TOKEN" "$HOST")
        fi
    done
fi
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
pair_report() {
    echo "subtenant tokens as a ratio to tenant tokens: $PAIRS pairs of -d$PAIR_DURATION runs, odd pairs tenant first, even pairs subtenant first (req/s of each run):"
    local kind i tenant_runs sub_runs ratios blocks a b r m v label
    for kind in mint cached; do
        tenant_runs=() sub_runs=() ratios=() blocks=()
        for ((i = 1; i <= PAIRS; i++)); do
            tenant_runs+=("${pair[$kind.$i]}")
            sub_runs+=("${pair[${kind}sub.$i]}")
            ratios+=("$(awk -v a="${pair[$kind.$i]}" -v b="${pair[${kind}sub.$i]}" 'BEGIN { printf "%.3f", b / a }')")
        done
        for ((i = 0; i < PAIRS; i += 2)); do
            blocks+=("$(awk -v x="${ratios[i]}" -v y="${ratios[i + 1]}" 'BEGIN { printf "%.3f", sqrt(x * y) }')")
        done
        a=$(median "${tenant_runs[@]}" | awk '{ printf "%.0f", $1 }')
        b=$(median "${sub_runs[@]}" | awk '{ printf "%.0f", $1 }')
        r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')
        m=$(awk -v m="$(median "${blocks[@]}")" 'BEGIN { printf "%.2f", m }')
        v=$(awk -v r="$m" 'BEGIN { print (r >= 0.95) ? "PASS" : "FAIL" }')
        label=$([[ $kind == mint ]] && echo "(a) mint" || echo "(b) cached verify")
        printf '  %-18s tenant %s\n  %-18s subtenant %s\n' "$label" "${tenant_runs[*]}" "" "${sub_runs[*]}"
        printf '  %-18s ratio of each pair %s\n' "" "${ratios[*]}"
        printf '  %-18s ratio of each block of two pairs (geometric mean) %s: median %s  %s (goal >= 0.95); median / median %s of %s = %s\n' \
            "" "${blocks[*]}" "$m" "$v" "$b" "$a" "$r"
    done
}
if [[ $PAIRS_ONLY == 1 ]]; then
    echo "bench-http (pairs only): commit $commit, $TENANTS tenants x $SUBTENANTS subtenants, wrk -t$THREADS -c$CONNECTIONS; $cpu; load $load_start at the start"
    pair_report
    [[ -n $wait_note ]] && echo "  WARNING: $wait_note."
    exit 0
fi
SWEEP=(${BENCH_SWEEP_CONNECTIONS:-8 16 32 64})
SWEEP_DURATION=${BENCH_SWEEP_DURATION:-8s}
run_sweep() { # array-name label: the cached verification at each count of SWEEP, BENCH lines into the array
    local -n into=$1
    local label=$2 c
    for c in "${SWEEP[@]}"; do
        server_alive
        log "wrk: cached verify ($label) at -c$c (-t$THREADS -d$SWEEP_DURATION)..."
        wrk -t"$THREADS" -c"$c" -d"$SWEEP_DURATION" --latency -s "$LUA/verify-cached.lua" "$URL" -- "$TOKEN" "$HOST" >"$work/sweep.out" 2>&1 \
            || { cat "$work/sweep.out" >&2; die "wrk failed for the sweep at -c$c ($label)"; }
        into[$c]=$(grep '^BENCH ' "$work/sweep.out" | tail -1) || die "no BENCH line for the sweep at -c$c ($label)"
    done
}
declare -A sweep sweep1
run_sweep sweep "default threads"
server_alive
# (b) again with the HTTP server on one event-loop thread (--event-loop-threads 1), the broker restarted on
# the same store, keys and port. With the default (one thread per core) the broker's 2 busy threads and
# wrk's 1 share 2 cores, and the kernel's time slicing shows up in p99; with one, wrk has a core to itself.
stop_server
start_server --event-loop-threads 1
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H "X-Forwarded-Host: $HOST" "$URL/v1/verify")
[[ $code == 200 ]] || die "GET /v1/verify answered $code after the restart"
run cached1 verify-cached.lua "$TOKEN" "$HOST"
run_sweep sweep1 "one event-loop thread"
server_alive
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 5. report ------------------------------------------------------------------------------------------
errors() { # non-2xx, plus wrk's socket errors and the status breakdown when there are any
    local line=$1 n sock codes
    n=$(field "$line" non2xx)
    sock=$(($(field "$line" connect) + $(field "$line" read) + $(field "$line" write) + $(field "$line" timeout)))
    codes=$(field "$line" statuses)
    local text=$n
    [[ $codes != - ]] && text="$n ($codes)"
    ((sock > 0)) && text="$text +$sock socket"
    printf '%s' "$text"
}
clean() { # no non-2xx and no socket errors
    local line=$1
    (($(field "$line" non2xx) + $(field "$line" connect) + $(field "$line" read) + $(field "$line" write) + $(field "$line" timeout) == 0))
}
row() { printf '%-42s %8s %9s %9s  %-10s %7s %7s %6s  %-26s %s\n' "$@"; }
line_of() {
    local name=$1 label=$2 target=$3 verdict=$4 l=${result[$1]} c
    read -r -a c <<<"${cpu[$1]}"
    row "$label" "$(rps "$l")" "$(ms "$l" p50_us)" "$(ms "$l" p99_us)" "$(errors "$l")" "${c[0]}" "${c[1]}" "${c[2]}%" "$target" "$verdict"
}

verdict_mint=FAIL
if clean "${result[mint]}" && (($(rps "${result[mint]}") >= 10000)); then verdict_mint=PASS; fi
meets_verify_target() { # BENCH line: clean, >= 30,000 req/s and p99 <= 2 ms
    clean "$1" && (($(rps "$1") >= 30000)) && awk -v us="$(field "$1" p99_us)" 'BEGIN { exit !(us <= 2000) }'
}
verdict_cached=FAIL
meets_verify_target "${result[cached]}" && verdict_cached=PASS
verdict_cached1=FAIL
meets_verify_target "${result[cached1]}" && verdict_cached1=PASS

once_requests=$(field "${result[once]}" requests)
echo
echo "bench-http: $(date -u '+%Y-%m-%d %H:%M:%S UTC') | nproc $(nproc) | CPU ${cpu:-unknown} | ${wrk_version:-wrk ?} | token-broker $commit"
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency against 127.0.0.1:$PORT | $TENANTS tenants (SQLite) | ES256 | load avg $load_start at start, $load_end at end"
echo "setup (not measured): $TENANTS tenants in ${tenant_seconds}s ($tenant_rate/s, 8 clients), $subtenant_note, $TOKENS tokens in ${token_seconds}s; ${setup_seconds}s in all"
echo
row "scenario" "req/s" "p50" "p99" "non-2xx" "brk us" "wrk us" "other" "target" "verdict"
printf '%s\n' "$(printf '%.0s-' {1..142})"
line_of mint "(a) mint POST /v1/tenants/{random}/token" ">= 10,000 req/s" "$verdict_mint"
if ((SUBTENANTS > 0)); then
    ratio() { awk -v a="$(rps "${result[$1]}")" -v b="$(rps "${result[$2]}")" 'BEGIN { printf "%.2f", a / b }'; }
    line_of mintsub "(a) same, for a random subtenant" "$(ratio mintsub mint) of (a), one run" "see pairs"
fi
line_of cached "(b) verify GET /v1/verify, one token" ">= 30,000 req/s, p99 <= 2 ms" "$verdict_cached"
if ((SUBTENANTS > 0)); then
    line_of cachedsub "(b) same, a subtenant's token" "$(ratio cachedsub cached) of (b), one run" "see pairs"
fi
line_of cached1 "(b) same, --event-loop-threads 1" ">= 30,000 req/s, p99 <= 2 ms" "$verdict_cached1"
line_of once "(c) verify 20k distinct, 1st pass (miss)" "report only" "-"
line_of cycle "(c) verify 20k distinct, cycling (hits)" "report only" "-"
line_of introspect "(d) introspect POST /oauth2/introspect" "report only" "-"
line_of healthz "    GET /healthz (HTTP stack ceiling)" "reference" "-"
if ((SUBTENANTS > 0)); then
    echo
    pair_report
fi
echo
echo "(b) at other connection counts (wrk -t$THREADS -d$SWEEP_DURATION each; the target holds at a count when both bounds do):"
printf '  %-30s %8s %9s %9s  %-10s %s\n' "connections" "req/s" "p50" "p99" "non-2xx" "both bounds (>= 30,000 req/s, p99 <= 2 ms)"
for c in "${SWEEP[@]}"; do
    for variant in default one; do
        if [[ $variant == default ]]; then l=${sweep[$c]} label="-c$c"; else l=${sweep1[$c]} label="-c$c, --event-loop-threads 1"; fi
        ok=no
        meets_verify_target "$l" && ok=yes
        printf '  %-30s %8s %9s %9s  %-10s %s\n' "$label" "$(rps "$l")" "$(ms "$l" p50_us)" "$(ms "$l" p99_us)" "$(errors "$l")" "$ok"
    done
done
echo
echo "Reference figures (from the issue, for scale; not measured here):"
echo "  Keycloak sizing guide:  ~120 client-credential grants/s per vCPU"
echo "  Ory Hydra (published):  ~500 client-credential grants/s and ~5,000 introspections/s on 2 CPUs"
echo
read -r -a cached_cpu <<<"${cpu[cached]}"
cores() { awk -v us="$1" -v r="$2" 'BEGIN { printf "%.2f", us * r / 1e6 }'; }
echo "Notes: wrk and the broker share the $(nproc) cores of this machine (wrk -t$THREADS). Cores in use = CPU us/request x req/s:"
echo "  in (b) the broker used $(cores "${cached_cpu[0]}" "$(rps "${result[cached]}")") cores and wrk $(cores "${cached_cpu[1]}" "$(rps "${result[cached]}")"), so the runs are CPU-bound here and every"
echo "  figure is a lower bound of what the broker does with the machine to itself (or with wrk on another host)."
echo "  The second (b) row restarts the broker with --event-loop-threads 1: its HTTP server then has one thread (one"
echo "  core's worth of I/O), and wrk the other core. It gives the broker less CPU, not more; what it removes is three"
echo "  busy threads time-sliced on two cores, whose waits of a few ms land in p99 (a raw SwiftNIO server on this host"
echo "  showed the same: about 3-4 ms p99 at -c32 with two event loops, 1.2 ms with one)."
echo "  (c) 1st pass sends each of the $TOKENS tokens once ($once_requests requests, each a verification-cache miss:"
echo "  one full ECDSA P-256 verification); the broker caches 100,000 results, so the cycling run is cache hits"
echo "  over a $TOKENS-entry working set. (d) counts a 200 with \"active\": false as a failure. p50/p99 are wrk's."
echo "  brk us / wrk us: CPU time (user+sys) the broker / wrk spent per request during the run; other: CPU"
echo "  used by other processes, % of the whole machine (anything above a few % disturbed the run)."
[[ -n $wait_note ]] && echo "  WARNING: $wait_note."
exit 0
