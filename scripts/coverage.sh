#!/usr/bin/env bash
# Line coverage of the workspace's unit and handler tests (README: `make coverage`).
# cargo-llvm-cov uses rustc's own instrumentation; it needs the llvm-tools component.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test >/dev/null
rustup component list --installed | grep -q '^llvm-tools' || rustup component add llvm-tools
command -v cargo-llvm-cov >/dev/null || cargo install cargo-llvm-cov --locked --version 0.9.1
# Test-only code is not what we measure: the dev-only crate testkit/ (the harness) and
# each function's handler tests (functions/*/src/tests.rs). cargo-llvm-cov itself
# already leaves out tests/ folders and files named tests.rs; the regex says so anyway.
cargo llvm-cov --workspace --locked \
  --ignore-filename-regex '/testkit/|/functions/[^/]+/src/tests\.rs$' \
  --fail-under-lines "${COVERAGE_MIN:-80}" "$@"
