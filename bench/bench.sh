#!/usr/bin/env bash
# make bench:
#  1. bench/lambda_bench.py: each release binary against a stand-in Lambda Runtime API
#     on a throwaway PostgreSQL (cold start, warm latency);
#  2. bench/dev_api_load.py: the local API (`make dev`'s watch) under 100 simultaneous
#     requests per route. Exits non-zero when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev >/dev/null
cargo build --release --locked --bins --quiet
tmp=$(mktemp -d /tmp/todo-bench.XXXXXX); chmod 755 "$tmp"
trap 'scripts/pg.sh stop "$tmp/pg"; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=$(scripts/pg.sh start "$tmp/pg" "$port")
python3 bench/lambda_bench.py --bin-dir target/release --database-url "$url" "$@"
scripts/with-dev-api.sh python3 bench/dev_api_load.py
