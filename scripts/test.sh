#!/usr/bin/env bash
# The one command that checks everything (README: `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test

step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }
started=$SECONDS

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit and handler tests on a throwaway PostgreSQL)"
cargo test --workspace --locked

step "all checks passed in $((SECONDS - started)) s"
