#!/usr/bin/env bash
# A real, throwaway PostgreSQL server on loopback for the test suite.
#
#   scripts/pg-test-server.sh start    install PostgreSQL if needed, create the private cluster if
#                                      needed, start it if needed, ensure role/database; prints the
#                                      connection URL as the only line on stdout
#   scripts/pg-test-server.sh stop     stop the server (pg_ctl stop -m fast) if it runs; always exit 0
#   scripts/pg-test-server.sh url      print the connection URL (no side effects)
#   scripts/pg-test-server.sh ca       print the path of the test CA certificate (TLS is offered
#                                      beside plaintext, with a certificate for 127.0.0.1 only)
#   scripts/pg-test-server.sh status   exit 0 if the server runs and accepts connections, else 1
#
# Usage: URL=$(scripts/pg-test-server.sh start)
#
# Environment:
#   TOKEN_BROKER_PG_DIR   data directory of the private cluster (default /tmp/token-broker-pg)
#   TOKEN_BROKER_PG_PORT  TCP port on 127.0.0.1 (default 55432)
#
# The cluster is private to this script: it never touches the cluster Debian's package creates
# (/var/lib/postgresql/*/main). It listens on 127.0.0.1 only, keeps its unix socket and its log
# (server.log) inside the data directory, offers TLS (a test CA's certificate for 127.0.0.1) beside plaintext, has trust authentication (loopback and
# local socket only). fsync and synchronous_commit stay on so durability tests mean something.
# Role `broker` (LOGIN SUPERUSER CREATEDB, password `broker`) owns database `broker_test`.
# Every command is idempotent and safe to run concurrently (a lock file serialises them).
set -euo pipefail

# Only the URL goes to stdout: keep the real stdout on fd 3 and send everything else to stderr.
exec 3>&1 1>&2

PG_DIR="${TOKEN_BROKER_PG_DIR:-/tmp/token-broker-pg}"
PG_PORT="${TOKEN_BROKER_PG_PORT:-55432}"
PG_HOST=127.0.0.1
DB_USER=broker
DB_PASSWORD=broker
DB_NAME=broker_test
PG_SUPERUSER=postgres   # bootstrap superuser of the private cluster, used over the unix socket

case "$PG_DIR" in /*) ;; *) PG_DIR="$PWD/$PG_DIR" ;; esac
PG_DIR="${PG_DIR%/}"
if ! [[ "$PG_PORT" =~ ^[0-9]+$ ]] || [ "$PG_PORT" -lt 1 ] || [ "$PG_PORT" -gt 65535 ]; then
    echo "pg-test-server: TOKEN_BROKER_PG_PORT must be a TCP port number, got '$PG_PORT'"
    exit 2
fi
URL="postgres://$DB_USER:$DB_PASSWORD@$PG_HOST:$PG_PORT/$DB_NAME"

say() { echo "pg-test-server: $*"; }
die() { echo "pg-test-server: error: $*"; exit 1; }

# Runs a command as the OS user owning the cluster: `postgres` when we are root (initdb and
# pg_ctl refuse to run as root), ourselves otherwise. From / so an unreadable cwd does not matter.
# Every file descriptor above 2 is closed first: the postmaster started by pg_ctl outlives this
# script, and must not hold the lock file, our caller's stdout (fd 3: `URL=$(... start)` would
# never finish) or any pipe inherited from a test runner.
as_owner() {
    (
        cd /
        local fd
        for fd in /proc/$BASHPID/fd/*; do
            fd="${fd##*/}"
            if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
        done
        if [ "$(id -u)" -eq 0 ]; then
            exec runuser -u postgres -- "$@"
        else
            exec "$@"
        fi
    )
}

# Directory of the PostgreSQL binaries: the version the cluster was made with if it exists,
# else the newest installed version. Empty if none is installed.
pg_bindir() {
    if [ -f "$PG_DIR/PG_VERSION" ]; then
        local v
        v="$(cat "$PG_DIR/PG_VERSION")"
        if [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ]; then
            echo "/usr/lib/postgresql/$v/bin"
            return
        fi
    fi
    local initdb
    initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
    [ -n "$initdb" ] && dirname "$initdb"
    return 0
}

install_postgresql() {
    if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
        return
    fi
    say "PostgreSQL server binaries not found, installing the postgresql package"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
        || die "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb exists"
}

# Client authentication, rewritten at every start: trust on loopback, except role pwcheck, which must
# give its password (scram-sha-256), for the tests of the broker's start-up errors (a wrong password).
write_hba() {
    as_owner tee "$PG_DIR/pg_hba.conf" >/dev/null <<'EOF'
# Written by scripts/pg-test-server.sh at every start: throwaway test cluster, loopback and local socket only.
# TYPE  DATABASE     USER     ADDRESS        METHOD
host    all          pwcheck  127.0.0.1/32   scram-sha-256
local   all          all                     trust
host    all          all      127.0.0.1/32   trust
local   replication  all                     trust
host    replication  all      127.0.0.1/32   trust
EOF
}

# Settings rewritten at every start (so a changed TOKEN_BROKER_PG_PORT takes effect); included
# from postgresql.conf, so a plain `pg_ctl -D $PG_DIR start` behaves the same.
write_settings() {
    as_owner tee "$PG_DIR/token-broker.conf" >/dev/null <<EOF
# Written by scripts/pg-test-server.sh at every start; edits are lost.
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
$(if [ -f "$PG_DIR/server.crt" ]; then printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" "$PG_DIR/server.crt" "$PG_DIR/server.key"; else echo "ssl = off"; fi)
max_connections = 200
shared_buffers = 32MB
fsync = on
synchronous_commit = on
full_page_writes = on
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

init_cluster() {
    local bindir="$1"
    if [ -f "$PG_DIR/PG_VERSION" ]; then
        return
    fi
    if [ -e "$PG_DIR" ] && [ -n "$(ls -A "$PG_DIR" 2>/dev/null)" ]; then
        die "$PG_DIR exists and is not empty but holds no PostgreSQL cluster; remove it or set TOKEN_BROKER_PG_DIR"
    fi
    say "creating cluster in $PG_DIR ($("$bindir/postgres" --version))"
    local parent tmp
    parent="$(dirname "$PG_DIR")"
    mkdir -p "$parent"
    # initdb into a sibling directory and rename it into place: an interrupted initdb never
    # leaves a half-made cluster at $PG_DIR.
    tmp="$(mktemp -d "$PG_DIR.init.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$tmp"
    fi
    chmod 0700 "$tmp"
    as_owner "$bindir/initdb" --pgdata="$tmp" --username="$PG_SUPERUSER" --auth=trust \
        --encoding=UTF8 --no-locale --no-instructions >/dev/null \
        || die "initdb failed (the $( [ "$(id -u)" -eq 0 ] && echo postgres || id -un ) user must be able to reach $parent)"
    as_owner tee -a "$tmp/postgresql.conf" >/dev/null <<'EOF'

# Test-server settings (listen address, port, socket directory, ...), see scripts/pg-test-server.sh
include 'token-broker.conf'
EOF
    if [ -d "$PG_DIR" ]; then rmdir "$PG_DIR"; fi
    mv "$tmp" "$PG_DIR"
    trap - EXIT
}

# A test CA and a server certificate for 127.0.0.1 only (no DNS name, so verify-full to
# "localhost" must fail while verify-ca passes), made once; TLS is offered beside plaintext
# (pg_hba's "host" lines accept both), for the sslmode tests. $PG_DIR/ca.crt is the root.
ensure_certificates() {
    [ -f "$PG_DIR/server.crt" ] && return 0
    local work
    work="$(mktemp -d)"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=token-broker test CA" \
        -keyout "$work/ca.key" -out "$work/ca.crt" >/dev/null 2>&1 || die "openssl could not make the test CA"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$work/server.key" -out "$work/server.csr" >/dev/null 2>&1 || die "openssl could not make the server key"
    printf "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n" > "$work/ext"
    openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -days 3650 \
        -extfile "$work/ext" -out "$work/server.crt" >/dev/null 2>&1 || die "openssl could not sign the server certificate"
    chmod 0644 "$work/ca.crt" "$work/server.crt"
    chmod 0600 "$work/server.key"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$work/server.key" "$work/server.crt" "$work/ca.crt"; fi
    mv "$work/ca.crt" "$PG_DIR/ca.crt"
    mv "$work/server.key" "$PG_DIR/server.key"
    mv "$work/server.crt" "$PG_DIR/server.crt"
    rm -rf "$work"
}

# 0 if a postmaster runs on $PG_DIR.
cluster_running() {
    local bindir="$1"
    [ -f "$PG_DIR/PG_VERSION" ] || return 1
    as_owner "$bindir/pg_ctl" status -D "$PG_DIR" >/dev/null 2>&1
}

# Port of the postmaster running on $PG_DIR (line 4 of postmaster.pid).
running_port() {
    sed -n 4p "$PG_DIR/postmaster.pid" 2>/dev/null || true
}

port_in_use() {
    (exec 9<>"/dev/tcp/$PG_HOST/$PG_PORT") 2>/dev/null
}

wait_ready() {
    local bindir="$1" i
    for i in $(seq 1 300); do
        if "$bindir/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -d postgres; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

psql_admin() {
    local bindir="$1"; shift
    as_owner "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" \
        -U "$PG_SUPERUSER" -d postgres "$@"
}

ensure_role_and_database() {
    local bindir="$1"
    psql_admin "$bindir" <<EOF
SELECT format('CREATE ROLE %I LOGIN SUPERUSER CREATEDB PASSWORD %L', '$DB_USER', '$DB_PASSWORD')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') \gexec
SELECT format('ALTER ROLE %I LOGIN SUPERUSER CREATEDB', '$DB_USER')
 WHERE EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER'
               AND NOT (rolcanlogin AND rolsuper AND rolcreatedb)) \gexec
SELECT 'CREATE ROLE pwcheck LOGIN PASSWORD ''pwcheck-password'''
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pwcheck') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', '$DB_NAME', '$DB_USER')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') \gexec
EOF
}

lock() {
    mkdir -p "$(dirname "$PG_DIR")"
    exec 8>>"$PG_DIR.lock"
    flock -w 300 8 || die "timed out waiting for the lock $PG_DIR.lock"
}

cmd_start() {
    local started_at bindir
    started_at=$(date +%s%N)
    install_postgresql
    lock
    bindir="$(pg_bindir)"
    [ -n "$bindir" ] || die "no PostgreSQL binaries under /usr/lib/postgresql"
    [ -x "$bindir/pg_ctl" ] || die "$bindir/pg_ctl missing"

    if cluster_running "$bindir"; then
        local port
        port="$(running_port)"
        if [ "$port" != "$PG_PORT" ]; then
            die "the server on $PG_DIR already runs on port ${port:-?}, not $PG_PORT; stop it first (TOKEN_BROKER_PG_PORT=${port:-?} $0 stop)"
        fi
        say "server on $PG_DIR already running on $PG_HOST:$PG_PORT"
        if ! grep -q pwcheck "$PG_DIR/pg_hba.conf" 2>/dev/null; then
            write_hba
            as_owner "$bindir/pg_ctl" reload -D "$PG_DIR" >/dev/null || die "pg_ctl reload failed"
        fi
        if [ ! -f "$PG_DIR/server.crt" ]; then
            # A cluster from before TLS was offered: add it without a restart (ssl settings reload).
            ensure_certificates
            write_settings
            as_owner "$bindir/pg_ctl" reload -D "$PG_DIR" >/dev/null || die "pg_ctl reload failed"
        fi
    else
        if port_in_use; then
            die "port $PG_PORT on $PG_HOST is already taken by another process; free it or set TOKEN_BROKER_PG_PORT"
        fi
        init_cluster "$bindir"
        ensure_certificates
        write_settings
        write_hba
        say "starting server on $PG_HOST:$PG_PORT (data $PG_DIR, log $PG_DIR/server.log)"
        if ! as_owner "$bindir/pg_ctl" start -D "$PG_DIR" -l "$PG_DIR/server.log" -w -t 60 >/dev/null; then
            echo "---- last lines of $PG_DIR/server.log ----"
            tail -n 20 "$PG_DIR/server.log" 2>/dev/null || true
            die "pg_ctl start failed"
        fi
    fi

    wait_ready "$bindir" || die "server on $PG_HOST:$PG_PORT does not accept connections (see $PG_DIR/server.log)"
    ensure_role_and_database "$bindir"
    say "ready after $(( ($(date +%s%N) - started_at) / 1000000 )) ms: $URL"
    echo "$URL" >&3
}

cmd_stop() {
    local bindir
    [ -f "$PG_DIR/PG_VERSION" ] || { say "no cluster in $PG_DIR, nothing to stop"; return 0; }
    lock
    bindir="$(pg_bindir)"
    if [ -z "$bindir" ] || ! cluster_running "$bindir"; then
        say "server on $PG_DIR is not running"
        return 0
    fi
    say "stopping server on $PG_DIR"
    as_owner "$bindir/pg_ctl" stop -D "$PG_DIR" -m fast -w -t 60 >/dev/null \
        || say "warning: pg_ctl stop failed (see $PG_DIR/server.log)"
    return 0
}

cmd_status() {
    local bindir
    bindir="$(pg_bindir)"
    if [ -n "$bindir" ] && cluster_running "$bindir" && [ "$(running_port)" = "$PG_PORT" ] \
        && "$bindir/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -d postgres; then
        say "running and accepting connections on $PG_HOST:$PG_PORT (data $PG_DIR)"
        return 0
    fi
    say "not running (data $PG_DIR, port $PG_PORT)"
    return 1
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    url) echo "$URL" >&3 ;;
    ca) echo "$PG_DIR/ca.crt" >&3 ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 start|stop|url|ca|status"
        exit 2
        ;;
esac
