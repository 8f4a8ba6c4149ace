#!/usr/bin/env bash
# make bench: what each function costs the way Lambda runs it, beside the floor (a
# lambda_http hello world built the same way), with the targets as PASS/FAIL lines.
#  1. release build of the functions and bench/hello (the profile sam build uses);
#  2. scripts/sam-build.sh, for the sizes of what `sam deploy` uploads (arm64);
#  3. bench/lambda_bench.py on a throwaway PostgreSQL with pg_stat_statements loaded;
#  4. bench/listing_scale.py: the listing for owners of 100 to 1 000 000 tasks;
#  5. bench/power_tuning.py: each function under Lambda's CPU share of 128–1769 MB
#     (cgroups: needs root), the cost of a million requests, the chosen memory sizes
#     (bench/power-tuning.json) and a chart (bench/power-tuning.svg).
# Exits non-zero when a target is missed. Arguments go to lambda_bench.py (-n, --cold).
# The local API under load (make dev's watch) is `make bench-dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/../scripts source=lib.sh
. scripts/lib.sh
scripts/setup.sh bench >/dev/null
export PATH="$PWD/.venv/bin:$PATH"
started=$SECONDS
cargo build --release --locked --bins --quiet
scripts/sam-build.sh >target/sam-build.log 2>&1 || { tail -40 target/sam-build.log; exit 1; }

tmp=$(temp_dir bench)
trap 'scripts/pg.sh stop "$tmp/pg"; rm -rf "$tmp"' EXIT
pg_port=$(free_port)
url=$(scripts/pg.sh start "$tmp/pg" "$pg_port" -c shared_preload_libraries=pg_stat_statements)
status=0
python3 bench/lambda_bench.py --bin-dir target/release --database-url "$url" "$@" || status=$?
python3 bench/listing_scale.py --bin-dir target/release --database-url "$url" || status=$?
python3 bench/power_tuning.py --bin-dir target/release --database-url "$url" || status=$?
echo "make bench took $((SECONDS - started)) s after setup"
exit "$status"
