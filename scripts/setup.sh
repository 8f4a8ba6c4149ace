#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine, skipping what is there.
#   scripts/setup.sh test   -> PostgreSQL server binaries, rustfmt, clippy
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

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

case "${1:-test}" in
  test)
    ensure_postgres
    ensure_rust_components
    ;;
  *) echo "usage: $0 test" >&2; exit 2 ;;
esac
