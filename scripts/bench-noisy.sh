#!/usr/bin/env bash
# Noisy neighbours: does one tenant flooding past its mint limit cost the other tenants?
#
#   bash scripts/bench-noisy.sh
#
# The release binary on loopback (SQLite, fresh ES256 key, --tenant-mint-rate 0), two tenants: B (t00001, no
# limit, so that B's own runs measure the broker and not B's limit) and A (t00002, limits.mintPerSecond = $A_LIMIT).
# Each round, alternating:
#   - B alone: mint, then cached verification of one B token (wrk -t1 -c$CONNECTIONS -d$DURATION);
#   - B while A floods: a second wrk sends A's mints at about 10x A's limit ($FLOOD_CONNECTIONS connections, each
#     pausing so that together they send FLOOD_RATE a second, mint-paced.lua) while B's two runs repeat.
#   - B paced, alone and while A floods: B's mint and cached verification again at about PACE (0.5) of the rate
#     B's alone run reached this round (connections pausing PACE_DELAY ms each, mint-paced.lua / verify-paced.lua),
#     so that B's p99 is the service time of a machine with room to spare, not the queue of a saturated one.
# C (t00003, a limit of 1,000,000/s that never refuses) mints right after B each round: the limit check's cost.
# And once: A's flood alone (almost every answer a 429), for the broker CPU one refusal costs, beside the CPU of one
# of B's mints in the same run; and GET /healthz as the HTTP stack's yardstick.
# wrk, the flood and the broker share the machine's cores: A's refusals take CPU B would otherwise have, so on
# 2 cores B's p99 rises with any load at all; the question is by how much, and what a refusal costs.
# Environment: A_LIMIT (100), FLOOD_RATE (10 x A_LIMIT), CONNECTIONS (8), FLOOD_CONNECTIONS (4), DURATION (8s), ROUNDS (2),
# PACE (0.5), PACE_DELAY (2 ms), SCRATCH (.build-release). Exit status is non-zero only if something fails to run.
set -euo pipefail
cd "$(dirname "$0")/.."
A_LIMIT=${A_LIMIT:-100}
CONNECTIONS=${CONNECTIONS:-8}
FLOOD_CONNECTIONS=${FLOOD_CONNECTIONS:-4}
FLOOD_RATE=${FLOOD_RATE:-$((10 * A_LIMIT))}
FLOOD_DELAY=$(( FLOOD_CONNECTIONS * 1000 / FLOOD_RATE ))
((FLOOD_DELAY >= 1)) || FLOOD_DELAY=1
DURATION=${DURATION:-8s}
ROUNDS=${ROUNDS:-2}
PACE=${PACE:-0.5}
PACE_DELAY=${PACE_DELAY:-2}
SCRATCH=${SCRATCH:-.build-release}
LUA=Benchmarks/http
TICK=$(getconf CLK_TCK)
log() { echo "bench-noisy: $*" >&2; }
die() { log "$*"; exit 1; }

missing=()
for tool in wrk jq curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
    log "installing ${missing[*]} (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work=$(mktemp -d)
server_pid=""
flood_pid=""
cleanup() {
    [[ -n $flood_pid ]] && kill "$flood_pid" 2>/dev/null || true
    if [[ -n $server_pid ]]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

log "building token-broker (release, $SCRATCH)..."
build=(swift build -c release --product token-broker --scratch-path "$SCRATCH")
"${build[@]}" >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; die "release build failed"; }
BIN=$("${build[@]}" --show-bin-path 2>/dev/null)/token-broker

DB="sqlite:$work/broker.sqlite"
mkdir -p "$work/keys"
KEY=$("$BIN" api-keys create --name bench --scopes admin --tenants '*' --database "$DB" --create 2>"$work/apikey.log" | grep -o 'tbk_[a-z0-9]*_[^[:space:]]*' | head -1) \
    || { cat "$work/apikey.log" >&2; die "api-keys create failed"; }
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
(cd "$work" && exec "$BIN" serve --host 127.0.0.1 --port "$PORT" --database "$DB" --keys-dir "$work/keys" --log-level warning --tenant-mint-rate 0 >>"$work/serve.log" 2>&1) &
server_pid=$!
for _ in $(seq 150); do curl -fsS -o /dev/null "$URL/healthz" 2>/dev/null && break; sleep 0.2; done
curl -fsS -o /dev/null "$URL/healthz" || { cat "$work/serve.log" >&2; die "no /healthz"; }

python3 "$LUA/setup.py" tenants --port "$PORT" --key "$KEY" --count 3 --workers 1 || die "creating tenants failed"
# C (t00003): a limit so high it never refuses, so C's mints pay for the limit check and B's do not.
curl -fsS -o /dev/null -X PATCH -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"limits": {"mintPerSecond": 1000000}}' "$URL/v1/tenants/t00003" || die "PATCH of C's limits failed"
curl -fsS -o /dev/null -X PATCH -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d "{\"limits\": {\"mintPerSecond\": $A_LIMIT}}" "$URL/v1/tenants/t00002" || die "PATCH of A's limits failed"
TOKEN=$(curl -fsS -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"ttl":3600}' "$URL/v1/tenants/t00001/token" | jq -er .access_token)
HOST=t00001.expertflow.com
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" "$URL/v1/tenants/t00002/token")
[[ $code == 200 ]] || die "A's first mint answered $code"

broker_cpu() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
field() { grep -o "$2=[0-9.]*" <<<"$1" | cut -d= -f2; }
declare -A line cpu
run() { # name connections script args...: one wrk run; BENCH line in line[name], broker µs per request in cpu[name]
    local name=$1 conns=$2 script=$3 b0 b1 out
    shift 3
    b0=$(broker_cpu)
    out=$(wrk -t1 -c"$conns" -d"$DURATION" --latency -s "$LUA/$script" "$URL" -- "$@" 2>&1) || { echo "$out" >&2; die "wrk failed: $name"; }
    b1=$(broker_cpu)
    line[$name]=$(grep '^BENCH ' <<<"$out" | tail -1)
    cpu[$name]=$(awk -v n="$(field "${line[$name]}" requests)" -v b=$((b1 - b0)) -v t="$TICK" 'BEGIN { printf "%.1f", b / t * 1e6 / n }')
    log "$name: $(field "${line[$name]}" requests) requests, p99 $(field "${line[$name]}" p99_us) us, non-2xx $(field "${line[$name]}" non2xx)"
}
flood_start() { # A's mints at FLOOD_RATE, in the background, for the length of B's four runs and a margin
    local seconds=$((4 * ${DURATION%s} + 4))
    wrk -t1 -c"$FLOOD_CONNECTIONS" -d"${seconds}s" --latency -s "$LUA/mint-paced.lua" "$URL" -- "$KEY" t00002 "$FLOOD_DELAY" >"$work/flood.out" 2>&1 &
    flood_pid=$!
    sleep 1
}
flood_stop() { # name: waits for the flood (in this shell: a command substitution could not wait for it), its BENCH line in line[name]
    wait "$flood_pid" || true
    flood_pid=""
    line[$1]=$(grep '^BENCH ' "$work/flood.out" | tail -1) || { cat "$work/flood.out" >&2; die "the flood printed no BENCH line"; }
}

paced_connections() { # name of a saturated run: connections that, pausing PACE_DELAY ms each, send about PACE of its rate
    awk -v n="$(field "${line[$1]}" requests)" -v us="$(field "${line[$1]}" duration_us)" -v pace="$PACE" -v d="$PACE_DELAY" \
        'BEGIN { c = int(n / (us / 1e6) * pace * d / 1000 + 0.5); print (c < 1 ? 1 : c) }'
}

run healthz "$CONNECTIONS" healthz.lua
run flood-alone "$FLOOD_CONNECTIONS" mint-one.lua "$KEY" t00002
for round in $(seq "$ROUNDS"); do
    run "mint-alone-$round" "$CONNECTIONS" mint-one.lua "$KEY" t00001
    run "mint-checked-$round" "$CONNECTIONS" mint-one.lua "$KEY" t00003
    run "verify-alone-$round" "$CONNECTIONS" verify-cached.lua "$TOKEN" "$HOST"
    # Paced: connections for about PACE of this round's saturated rate, each pausing PACE_DELAY ms per request.
    paced_mint=$(paced_connections "mint-alone-$round")
    paced_verify=$(paced_connections "verify-alone-$round")
    run "mintpaced-alone-$round" "$paced_mint" mint-paced.lua "$KEY" t00001 "$PACE_DELAY"
    run "verifypaced-alone-$round" "$paced_verify" verify-paced.lua "$TOKEN" "$HOST" "$PACE_DELAY"
    flood_start
    run "mint-flood-$round" "$CONNECTIONS" mint-one.lua "$KEY" t00001
    run "verify-flood-$round" "$CONNECTIONS" verify-cached.lua "$TOKEN" "$HOST"
    run "mintpaced-flood-$round" "$paced_mint" mint-paced.lua "$KEY" t00001 "$PACE_DELAY"
    run "verifypaced-flood-$round" "$paced_verify" verify-paced.lua "$TOKEN" "$HOST" "$PACE_DELAY"
    flood_stop "flood-$round"
done

label() { case $1 in mintpaced) echo "mint (paced)" ;; verifypaced) echo "verify (paced)" ;; *) echo "$1" ;; esac; }
seconds() { awk -v us="$(field "$1" duration_us)" 'BEGIN { print us / 1e6 }'; }
rps() { awk -v n="$(field "$1" requests)" -v s="$(seconds "$1")" 'BEGIN { printf "%.0f", n / s }'; }
p99() { awk -v us="$(field "$1" p99_us)" 'BEGIN { printf "%.2f ms", us / 1000 }'; }
echo
echo "noisy neighbours: $(git rev-parse --short HEAD 2>/dev/null), $(nproc) cores, A's limit $A_LIMIT/s, A's flood beside B's runs aimed at $FLOOD_RATE/s ($FLOOD_CONNECTIONS connections, ${FLOOD_DELAY} ms pause), B without a limit"
printf '%-44s %9s %10s %9s %8s\n' scenario req/s p99 non-2xx "brk us"
for name in healthz flood-alone; do
    printf '%-44s %9s %10s %9s %8s\n' "$name" "$(rps "${line[$name]}")" "$(p99 "${line[$name]}")" "$(field "${line[$name]}" non2xx)" "${cpu[$name]}"
done
for round in $(seq "$ROUNDS"); do
    for kind in mint verify mintpaced verifypaced; do
        for phase in alone flood; do
            name="$kind-$phase-$round"
            printf '%-44s %9s %10s %9s %8s\n' "B $(label "$kind"), $phase (round $round)" "$(rps "${line[$name]}")" "$(p99 "${line[$name]}")" \
                "$(field "${line[$name]}" non2xx)" "${cpu[$name]}"
        done
    done
    name="mint-checked-$round"
    printf '%-44s %9s %10s %9s %8s\n' "C mint, limit checked (round $round)" "$(rps "${line[$name]}")" "$(p99 "${line[$name]}")" \
        "$(field "${line[$name]}" non2xx)" "${cpu[$name]}"
    f=${line[flood-$round]}
    printf '%-44s %9s %10s %9s %8s\n' "A's flood beside it (round $round)" "$(rps "$f")" "$(p99 "$f")" "$(field "$f" non2xx)" "-"
done
echo
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for kind in mint verify mintpaced verifypaced; do
    ratios=()
    for round in $(seq "$ROUNDS"); do
        ratios+=("$(awk -v a="$(field "${line[$kind-alone-$round]}" p99_us)" -v f="$(field "${line[$kind-flood-$round]}" p99_us)" 'BEGIN { printf "%.2f", f / a }')")
    done
    printf '  B %s p99 with A flooding / alone: median %s of rounds %s (goal: < 1.10)\n' "$(label "$kind")" "$(printf '%s\n' "${ratios[@]}" | median)" "${ratios[*]}"
done
checked=()
for round in $(seq "$ROUNDS"); do
    checked+=("$(awk -v b="$(rps "${line[mint-alone-$round]}")" -v c="$(rps "${line[mint-checked-$round]}")" 'BEGIN { printf "%.3f", c / b }')")
done
printf '  mint req/s with the limit checked (C) / without (B): median %s of rounds %s\n' "$(printf '%s\n' "${checked[@]}" | median)" "${checked[*]}"
awk -v a="$(field "${line[flood-alone]}" requests)" -v s="$(seconds "${line[flood-alone]}")" -v limit="$A_LIMIT" \
    -v refused="$(field "${line[flood-alone]}" non2xx)" -v c="${cpu[flood-alone]}" -v m="${cpu[mint-alone-1]}" -v h="${cpu[healthz]}" 'BEGIN {
    printf "  A alone, unpaced: %.0f mints/s, %.0fx its limit; %d of %d refused\n", a / s, a / s / limit, refused, a
    printf "  broker CPU per request of A'"'"'s flood (almost all 429) / per mint of B: %.1f / %.1f us = %.2f (goal: < 0.20)\n", c, m, c / m
    printf "  the same with the HTTP floor (GET /healthz, %.1f us) taken off both: %.1f / %.1f us = %.2f; a refusal / /healthz: %.2f\n", h, c - h, m - h, (c - h) / (m - h), c / h }'
