#!/usr/bin/env bash
# Compiles the server with each set of back-end features it can be built with: none, each alone,
# and all. A back-end's code is compiled only where its feature is on, so a build with another
# set could break unnoticed. Clippy (the compiler's every check and the lints, warnings denied,
# without generating code) reuses what `make lint` compiled; `make test` then builds the full
# set for real.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

for features in "" "pgvector" "elastic" "pgvector,elastic"; do
    echo "== Server compiled with back-end features: ${features:-none}"
    cargo clippy --profile "${VS_CARGO_PROFILE:-release}" -p vector-store-server \
        --no-default-features ${features:+--features "$features"} -- -D warnings
done
