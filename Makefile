# Every target installs what it needs first (see scripts/setup.sh).
.PHONY: test fmt clippy

## Run every check: fmt, clippy, all tests (installs PostgreSQL when missing).
test:
	scripts/test.sh

fmt:
	cargo fmt --all

clippy:
	cargo clippy --workspace --all-targets -- -D warnings
