#!/usr/bin/env bash
# PostgreSQL side of the search benchmark (issue 6, "Side-by-side in one run").
#
#   benches/pg_search.sh DIR [--rounds N] [--port P]
#
# DIR holds corpus.tsv and queries.tsv as written by `atalaya bench search`.
# Starts a private PostgreSQL (initdb in a temp dir, never the system cluster),
# loads DIR/corpus.tsv into a table with a stored Spanish/English tsvector
# column, builds a GIN index, then runs every query of DIR/queries.tsv
# --rounds times (after one warm-up round) and prints a table plus, as the
# last line of stdout, one JSON object with the numbers. Progress goes to
# stderr. The instance and its temp dir are removed on exit, even on failure.
# Installs Debian `postgresql` and a psycopg venv (in
# ${XDG_CACHE_HOME:-$HOME/.cache}/atalaya-bench/venv) when they are missing.
# The temp dir is made under ${TMPDIR:-/tmp}.
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
log() { echo "pg_search: $*" >&2; }
die() { log "error: $*"; exit 2; }
usage() { echo "usage: $0 DIR [--rounds N] [--port P]" >&2; exit 2; }

DIR=""
ROUNDS=50
PORT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) [ $# -ge 2 ] || usage; ROUNDS=$2; shift 2 ;;
        --rounds=*) ROUNDS=${1#*=}; shift ;;
        --port) [ $# -ge 2 ] || usage; PORT=$2; shift 2 ;;
        --port=*) PORT=${1#*=}; shift ;;
        -h|--help) usage ;;
        -*) log "unknown option $1"; usage ;;
        *) [ -z "$DIR" ] || usage; DIR=$1; shift ;;
    esac
done
[ -n "$DIR" ] || usage
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && [ "$ROUNDS" -ge 1 ] || die "--rounds must be a positive integer"
[ -z "$PORT" ] || [[ "$PORT" =~ ^[0-9]+$ ]] || die "--port must be a number"
DIR=$(readlink -f "$DIR")
[ -r "$DIR/corpus.tsv" ] || die "$DIR/corpus.tsv not found"
[ -r "$DIR/queries.tsv" ] || die "$DIR/queries.tsv not found"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# --- 1. PostgreSQL binaries -------------------------------------------------
find_pgbin() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
            echo "$d"; return 0
        fi
    done
    local i
    i=$(command -v initdb 2>/dev/null) || return 1
    i=$(dirname "$(readlink -f "$i")")
    [ -x "$i/pg_ctl" ] && [ -x "$i/postgres" ] && { echo "$i"; return 0; }
    return 1
}
PGBIN=$(find_pgbin) || {
    log "installing Debian postgresql"
    $SUDO apt-get update -qq >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    PGBIN=$(find_pgbin) || die "postgresql installed but initdb/pg_ctl not found"
}

# --- 1b. Python driver in a cached venv -------------------------------------
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/atalaya-bench/venv"
PY="$VENV/bin/python"
if ! "$PY" -c 'import psycopg' >/dev/null 2>&1; then
    log "setting up $VENV with psycopg"
    if ! "$PY" -m pip --version >/dev/null 2>&1; then
        rm -rf "$VENV"
        mkdir -p "$(dirname "$VENV")"
        if ! python3 -m venv "$VENV" >&2 2>/dev/null; then
            rm -rf "$VENV"
            log "installing python3-venv"
            $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2 \
                || { $SUDO apt-get update -qq >&2 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2; }
            python3 -m venv "$VENV" >&2
        fi
    fi
    "$PY" -m pip install -q 'psycopg[binary]>=3.1' >&2
    "$PY" -c 'import psycopg' || die "psycopg is not importable from $VENV"
fi

# --- 2. Private instance -----------------------------------------------------
if [ -z "$PORT" ]; then
    PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi

RUNAS=()
PGUSER_NAME=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses to run as root: run it as the (system) user postgres.
    if ! id -u postgres >/dev/null 2>&1; then
        log "creating system user postgres"
        useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    RUNAS=(runuser -u postgres --)
    PGUSER_NAME=postgres
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/atalaya-pg-search.XXXXXX")
PGDATA="$TMP/data"
STARTED=0
CHILD=""
cleanup() {
    local rc=$?
    trap - INT TERM
    if [ -n "$CHILD" ]; then kill "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; fi
    if [ "$STARTED" = 1 ]; then
        (cd "$TMP" && "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null 2>&1) \
            || (cd "$TMP" && "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1) || true
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
chmod 0755 "$TMP"
[ "${#RUNAS[@]}" -eq 0 ] || chown postgres: "$TMP"
cd "$TMP"   # the postgres user must be able to read its working directory

log "initdb ($("$PGBIN/postgres" --version)) in $TMP"
"${RUNAS[@]}" "$PGBIN/initdb" -D "$PGDATA" -U "$PGUSER_NAME" --auth=trust \
    -E UTF8 --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1 \
    || { cat "$TMP/initdb.log" >&2; die "initdb failed"; }
# Modest settings for a 2-core machine. Durability stays at its defaults
# (fsync, full_page_writes on); the loader turns synchronous_commit off for its
# own session only. JIT is off: it only adds compile time to queries this short.
cat >>"$PGDATA/postgresql.conf" <<CONF

# atalaya benches/pg_search.sh
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$TMP'
shared_buffers = 256MB
work_mem = 64MB
maintenance_work_mem = 512MB
max_parallel_workers_per_gather = 2
max_parallel_maintenance_workers = 2
max_wal_size = 4GB
effective_cache_size = 4GB
jit = off
logging_collector = off
CONF
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -l "$TMP/postgres.log" -w -t 120 start >/dev/null \
    || { cat "$TMP/postgres.log" >&2; die "pg_ctl start failed (port $PORT in use?)"; }
STARTED=1
log "PostgreSQL up on 127.0.0.1:$PORT (socket in $TMP)"

# --- 3-5. Load, index, query, report (stdout: table + JSON last line) -------
# Run in the background and wait, so a signal to this script stops the run at
# once (bash would otherwise defer its traps until the child exits).
"$PY" "$HERE/pg_search.py" "$DIR" --host "$TMP" --port "$PORT" --user "$PGUSER_NAME" --rounds "$ROUNDS" &
CHILD=$!
wait "$CHILD"
CHILD=""
