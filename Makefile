# make run   — start the service on its embedded defaults (local PostgreSQL + pgvector, built-in model)
# make test  — every test, against real servers started (and stopped) here
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test model services-up services-down fmt lint build

model:
	scripts/fetch-model.sh

services-up:
	scripts/services.sh up all

services-down:
	scripts/services.sh down all

build:
	$(CARGO) build -p vector-store-server

# Uses DATABASE_URL / VECTOR_STORE__DATABASE__URL when set; otherwise starts a project-local
# PostgreSQL with pgvector (left running: `make services-down` stops it).
run: model
	scripts/services.sh up pg
	eval "$$(scripts/services.sh env)" && $(CARGO) run -p vector-store-server -- serve

test:
	scripts/test.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings
