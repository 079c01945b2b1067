#!/usr/bin/env bash
# Runs every test against real servers: fetches the model, starts the project-local PostgreSQL
# (and the Elasticsearch-API server) unless URLs are given, runs the suite, stops what it started.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/fetch-model.sh"

started=()
cleanup() {
    for s in "${started[@]}"; do "$root/scripts/services.sh" down "$s" || true; done
}
trap cleanup EXIT

if [[ -z "${DATABASE_URL:-}" && -z "${VECTOR_STORE__DATABASE__URL:-}" ]]; then
    "$root/scripts/services.sh" up pg
    started+=(pg)
fi
eval "$("$root/scripts/services.sh" env)"
export DATABASE_URL="${DATABASE_URL:-${VECTOR_STORE__DATABASE__URL:-}}"

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --all-features --profile ci "$@"
else
    cargo test --workspace --all-features "$@"
fi

# The OpenAI conformance suite: the official Python client against the real server binary.
[[ -x "$root/.venv/bin/python" ]] || python3 -m venv "$root/.venv"
"$root/.venv/bin/pip" install --disable-pip-version-check -q -r "$root/tests/openai/requirements.txt"
cargo build -p vector-store-server
VS_SERVER_BIN="$root/target/debug/vector-store-server" "$root/.venv/bin/python" -m pytest -q "$root/tests/openai"
