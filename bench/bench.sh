#!/usr/bin/env bash
# make bench, on a throwaway PostgreSQL with the API running as `make dev` runs it
# (scripts/with-dev-api.sh):
#  1. bench/lambda_bench.py: each release binary against a stand-in Lambda Runtime API
#     (cold start, warm latency);
#  2. bench/dev_api_load.py: the local API under 100 simultaneous requests per route.
#     Exits non-zero when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev >/dev/null
cargo build --release --locked --bins --quiet
# shellcheck disable=SC2016
scripts/with-dev-api.sh sh -c \
  'python3 bench/lambda_bench.py --bin-dir target/release --database-url "$DATABASE_URL" "$@" &&
   python3 bench/dev_api_load.py' bench "$@"
