#!/usr/bin/env bash
# Line coverage of the workspace's unit and handler tests (README: `make coverage`).
# cargo-llvm-cov uses rustc's own instrumentation; it needs the llvm-tools component.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test >/dev/null
rustup component list --installed | grep -q '^llvm-tools' || rustup component add llvm-tools
command -v cargo-llvm-cov >/dev/null || cargo install cargo-llvm-cov --locked --version 0.9.1
# Test-only code (the harness) is not what we measure.
cargo llvm-cov --workspace --locked --ignore-filename-regex '(testing\.rs|tests\.rs)$' \
  --fail-under-lines "${COVERAGE_MIN:-80}" "$@"
