# make run   — start the service on its embedded defaults (local PostgreSQL + pgvector, built-in model)
# make test  — every test, against real servers started (and stopped) here
# make bench — the benchmarks (docs/benchmarks.md); make bench-quick a reduced run of a few minutes
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test test-chaos test-hostile model services-up services-down fmt lint build build-features bench bench-quick

model:
	scripts/fetch-model.sh

services-up:
	scripts/services.sh up all

services-down:
	scripts/services.sh down all

build:
	$(CARGO) build -p vector-store-server

# The server compiled with no back-end feature, with each alone and with all (CI runs it before
# the tests).
build-features:
	scripts/build-features.sh

# Uses DATABASE_URL / VECTOR_STORE__DATABASE__URL when set; otherwise starts a project-local
# PostgreSQL with pgvector (left running: `make services-down` stops it).
run: model
	scripts/services.sh up pg
	eval "$$(scripts/services.sh env)" && $(CARGO) run --release -p vector-store-server -- serve

test:
	scripts/test.sh

# The database restarted under load, and a minute of mixed load (make test runs it too).
test-chaos:
	scripts/test-chaos.sh

# The release build fed memory bombs, key sprays, a million requests, heavy lists and huge
# bodies, its memory sampled (make test runs it too).
test-hostile:
	scripts/test-hostile.sh

fmt:
	$(CARGO) fmt --all

# Clippy with the profile the tests build with (VS_CARGO_PROFILE, release by default): the
# proc-macros and build scripts it compiles are the ones the test build then reuses.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features --profile $${VS_CARGO_PROFILE:-release} \
		-- -D warnings

# Results in target/bench (summary.json, summary.md, SVG charts); see docs/benchmarks.md.
bench:
	scripts/bench.sh

bench-quick:
	scripts/bench.sh --quick
