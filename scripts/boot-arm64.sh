#!/usr/bin/env bash
# Boots what `sam build` made (scripts/sam-build.sh first): each arm64 bootstrap under
# qemu-aarch64-static against the Runtime API stand-in and a throwaway PostgreSQL,
# compared with the native build (tests/artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/lib.sh
[ -d .aws-sam/build ] || die "run scripts/sam-build.sh first"

tmp=$(temp_dir boot)
trap 'scripts/pg.sh stop "$tmp/pg"; rm -rf "$tmp"' EXIT

cargo build --locked --quiet --bins
# Assigned, then exported: `export X=$(cmd)` would hide a failing cmd.
pg_port=$(free_port)
DATABASE_URL=$(scripts/pg.sh start "$tmp/pg" "$pg_port")
BETTER_AUTH_SECRET=$(openssl rand -hex 32)
export DATABASE_URL BETTER_AUTH_SECRET
.venv/bin/python -m pytest -q -p no:cacheprovider tests/artifacts "$@"
