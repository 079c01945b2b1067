#!/usr/bin/env bash
# The chaos suite (tests/chaos): the database stopped and started under load, on a PostgreSQL
# cluster of its own (.local/pg-chaos, port VECTOR_STORE_CHAOS_PG_PORT or the main port + 1),
# and a minute of mixed load from 64 clients of 4 tenants against the main database. It starts
# what it needs that is not running, and stops what it started. `make test` runs it last, with
# its own build profile (`VS_CARGO_PROFILE`, dev by default).
set -euo pipefail
# shellcheck source=scripts/suite-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/suite-env.sh"

chaos_dir="$root/.local/pg-chaos"
chaos_port="${VECTOR_STORE_CHAOS_PG_PORT:-$((${VECTOR_STORE_PG_PORT:-55432} + 1))}"
chaos() {
    env -u DATABASE_URL -u VECTOR_STORE__DATABASE__URL \
        VECTOR_STORE_PG_DIR="$chaos_dir" VECTOR_STORE_PG_PORT="$chaos_port" \
        "$root/scripts/services.sh" "$@"
}

on_exit() { chaos down pg || true; }
need pg
chaos up pg
export CHAOS_PG_DIR="$chaos_dir" CHAOS_PG_PORT="$chaos_port"

echo "== Chaos: a database restart under load, a minute of mixed load"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --all-features --profile ci --cargo-profile "${VS_CARGO_PROFILE:-dev}" --workspace -E 'binary_id(e2e-tests::chaos)' --run-ignored only --test-threads 1 \
        --success-output immediate "$@"
else
    cargo test --all-features --profile "${VS_CARGO_PROFILE:-dev}" -p e2e-tests --test chaos -- --ignored --nocapture --test-threads 1 "$@"
fi
