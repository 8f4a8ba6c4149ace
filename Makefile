# Every target installs what it needs first (see scripts/setup.sh).
.PHONY: test check fmt clippy dev dev-reset migrate sam-build coverage bench bench-dev faults

## Run every check: shellcheck, fmt, clippy, all tests (installs what is missing: scripts/setup.sh test).
test:
	scripts/test.sh

## The inner loop: fmt, clippy and cargo test only (no installs, no end-to-end, no sam build).
check:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace

fmt:
	cargo fmt --all

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

## Run the API locally at http://127.0.0.1:9000 (local PostgreSQL in .local/pg).
dev:
	scripts/dev.sh

## Delete the local development database (stop `make dev` first).
dev-reset:
	scripts/pg.sh stop .local/pg
	rm -rf .local/pg

## Apply migrations/ to DATABASE_URL (or DATABASE_URL_SECRET_ARN) before a deploy.
migrate:
	cargo run --quiet --release -p migrate

## sam build + a check that every function got an arm64 bootstrap.
sam-build:
	scripts/setup.sh test
	scripts/sam-build.sh

## The local API under load while a proxy before PgBouncer injects faults; 503/504 checked in the DB.
faults:
	scripts/faults.sh

## Line coverage of the workspace (cargo-llvm-cov, installed on first use).
coverage:
	scripts/coverage.sh

## Each function as Lambda runs it, beside a hello-world floor: PASS/FAIL per target.
bench:
	bench/bench.sh

## The local API (make dev) under 100 simultaneous requests per route.
bench-dev:
	scripts/setup.sh dev
	scripts/with-dev-api.sh python3 bench/dev_api_load.py
