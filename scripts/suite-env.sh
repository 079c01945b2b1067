#!/usr/bin/env bash
# Sourced by the test scripts: fetches the built-in model, and gives `need`, which starts the
# project-local servers named (`pg`, `es`, `s3`) whose URLs are not given and exports their URLs.
# What `need` started is stopped when the sourcing script exits, after its `on_exit`.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/fetch-model.sh"

started=()
# A script's own clean-up, run first on exit; it may define it again.
on_exit() { :; }
stop_started() {
    on_exit
    for s in "${started[@]}"; do "$root/scripts/services.sh" down "$s" || true; done
}
trap stop_started EXIT

need() {
    for s in "$@"; do
        case "$s" in
            pg) [[ -z "${DATABASE_URL:-}${VECTOR_STORE__DATABASE__URL:-}" ]] || continue ;;
            es) [[ -z "${ELASTICSEARCH_URL:-}" ]] || continue ;;
            s3) [[ -z "${VECTOR_STORE_TEST_S3_ENDPOINT:-}" ]] || continue ;;
            *) echo "need: no server '$s'" >&2; return 1 ;;
        esac
        "$root/scripts/services.sh" up "$s"
        started+=("$s")
    done
    eval "$("$root/scripts/services.sh" env)"
    export DATABASE_URL="${DATABASE_URL:-${VECTOR_STORE__DATABASE__URL:-}}"
    export ELASTICSEARCH_URL VECTOR_STORE_TEST_S3_ENDPOINT
}
