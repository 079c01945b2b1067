#!/usr/bin/env bash
# Runs every test against real servers: fetches the model, starts the project-local PostgreSQL,
# the Elasticsearch-API server and the S3-API server unless URLs are given (DATABASE_URL,
# ELASTICSEARCH_URL, VECTOR_STORE_TEST_S3_ENDPOINT), runs
# the Rust suite, then the end-to-end suites once more with Elasticsearch as the default back-end,
# and stops what it started. The Elasticsearch client's TypeScript types (npm) are installed
# first. Everything is built once, with the release profile the hostile-load suite needs
# (`VS_CARGO_PROFILE=dev` runs the other suites on a debug build), and with one set of features,
# so no suite builds again; the Python suites start that build's server binary.
set -euo pipefail
# shellcheck source=scripts/suite-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/suite-env.sh"
need pg es s3

export VS_CARGO_PROFILE="${VS_CARGO_PROFILE:-release}"
case "$VS_CARGO_PROFILE" in
    dev) out_dir=debug ;;
    *) out_dir="$VS_CARGO_PROFILE" ;;
esac
if cargo nextest --version >/dev/null 2>&1; then
    run_rust() { cargo nextest run --all-features --profile ci --cargo-profile "$VS_CARGO_PROFILE" "$@"; }
    # The whole workspace, filtered: naming the package alone would resolve other features and
    # build again.
    e2e_only=(--workspace -E 'package(e2e-tests)')
else
    run_rust() { cargo test --all-features --profile "$VS_CARGO_PROFILE" "$@"; }
    # `cargo test` has no filter sets: the end-to-end package is named instead.
    e2e_only=(-p e2e-tests)
fi

# The official Elasticsearch client's TypeScript types, which store-elastic's request-types
# test checks every request body against (`tests/es-types`).
echo "== Elasticsearch client types (npm ci)"
npm ci --prefix "$root/tests/es-types" --no-audit --no-fund --loglevel=error

echo "== Rust: every crate; end-to-end tests on pgvector"
run_rust --workspace "$@"
echo "== Rust: end-to-end tests on Elasticsearch"
E2E_STORAGE_BACKEND=elasticsearch run_rust "${e2e_only[@]}" "$@"
"$root/scripts/test-chaos.sh"
"$root/scripts/test-hostile.sh"

# The OpenAI conformance suite: the official Python client against the real server binary.
[[ -x "$root/.venv/bin/python" ]] || python3 -m venv "$root/.venv"
"$root/.venv/bin/pip" install --disable-pip-version-check -q -r "$root/tests/openai/requirements.txt"
# The server's command line as the end-to-end suite built it (`e2e-server`, with every feature).
server_bin="$root/target/$out_dir/e2e-server"
# The Python suite in tests/DIR against that binary, once on each back-end.
on_each_backend() { # TITLE DIR
    local backend
    for backend in pgvector elasticsearch; do
        echo "== $1 on $backend"
        VS_STORAGE_BACKEND="$backend" VS_SERVER_BIN="$server_bin" \
            "$root/.venv/bin/python" -m pytest -q "$root/tests/$2"
    done
}
on_each_backend "OpenAI client suite" openai
# `/mcp` through the official MCP client (both protocol revisions) against the same binary, and
# through the MCP Inspector's CLI and the OpenAI Agents SDK.
"$root/.venv/bin/pip" install --disable-pip-version-check -q -r "$root/tests/mcp/requirements.txt"
npm ci --prefix "$root/tests/mcp/inspector" --no-audit --no-fund --loglevel=error
on_each_backend "MCP client suite" mcp
"$root/scripts/install-browser.sh"
"$root/.venv/bin/pip" install --disable-pip-version-check -q -r "$root/tests/openapi/requirements.txt"
on_each_backend "Self-description suite (OpenAPI, schema fuzzing, metrics, Swagger UI)" openapi
"$root/.venv/bin/pip" install --disable-pip-version-check -q -r "$root/tests/console/requirements.txt"
echo "== Console in headless Chromium"
VS_STORAGE_BACKEND=pgvector VS_SERVER_BIN="$server_bin" \
    "$root/.venv/bin/python" -m pytest -q "$root/tests/console"
