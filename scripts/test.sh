#!/usr/bin/env bash
# The one command that checks everything (README: `make test`). Installs what is
# missing first (scripts/setup.sh test), then:
#   fmt, clippy, unit + handler tests (throwaway PostgreSQL), spec and template lints,
#   end-to-end tests over HTTP (cargo lambda watch, pytest, schemathesis, Chromium),
#   and `sam build` (arm64 bootstrap per function).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PATH="$PWD/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0

step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }
started=$SECONDS

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the shipped functions do not depend on the test kit"
for function in functions/*/; do
  if cargo tree --locked -p "$(basename "$function")" -e normal,build --prefix none | grep -q '^todo-testkit'; then
    echo "$function depends on todo-testkit outside [dev-dependencies]" >&2
    exit 1
  fi
done

step "cargo test (unit and handler tests on a throwaway PostgreSQL)"
cargo test --workspace --locked

step "lint openapi.yaml (redocly) and template.yaml (sam validate --lint, cfn-lint)"
tools/lint/node_modules/.bin/redocly lint --config .redocly.yaml openapi.yaml
AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} sam validate --lint --template template.yaml
cfn-lint template.yaml

step "end-to-end over HTTP (cargo lambda watch + pytest + schemathesis + Chromium)"
scripts/e2e.sh

step "sam build (arm64 bootstrap per function)"
scripts/sam-build.sh

step "all checks passed in $((SECONDS - started)) s"
