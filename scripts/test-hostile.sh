#!/usr/bin/env bash
# The hostile-load suite (tests/hostile): the release-built server fed memory bombs, a key
# spray, a million requests, heavy lists beside another tenant, and 100 huge bodies at once,
# its memory sampled and each figure printed. It builds with the release profile, starts
# PostgreSQL unless DATABASE_URL is set, and stops what it started. `make test` runs it last.
set -euo pipefail
# shellcheck source=scripts/suite-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/suite-env.sh"
need pg

echo "== Hostile load against the release build"
# The suite starts the server's command line as this package builds it (`e2e-server`), built
# here with the release profile, as `make test` builds everything.
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --all-features --profile ci --cargo-profile release --workspace -E 'binary_id(e2e-tests::hostile)' \
        --run-ignored only --test-threads 1 --success-output immediate "$@"
else
    cargo test --all-features --release -p e2e-tests --test hostile -- --ignored --nocapture --test-threads 1 "$@"
fi
