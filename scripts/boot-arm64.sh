#!/usr/bin/env bash
# Boots what `sam build` made (scripts/sam-build.sh first): each arm64 bootstrap under
# qemu-aarch64-static against the Runtime API stand-in and a throwaway PostgreSQL,
# compared with the native build (tests/artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d .aws-sam/build ] || { echo "run scripts/sam-build.sh first" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d /tmp/todo-boot.XXXXXX)
chmod 755 "$tmp"
trap 'scripts/pg.sh stop "$tmp/pg"; rm -rf "$tmp"' EXIT

cargo build --locked --quiet --bins
export DATABASE_URL=$(scripts/pg.sh start "$tmp/pg" "$(free_port)")
export BETTER_AUTH_SECRET=$(openssl rand -hex 32)
.venv/bin/python -m pytest -q -p no:cacheprovider tests/artifacts "$@"
