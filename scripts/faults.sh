#!/usr/bin/env bash
# The fault campaign (tests/faults/campaign.py): the API as `make dev` runs it, with
# Debian's PgBouncer (transaction mode, as Neon's pooled endpoint) in front of a
# throwaway PostgreSQL and a fault proxy (tests/support/fault_proxy.py) between the
# functions and PgBouncer. For about a minute a mixed workload runs while the proxy
# delays, resets, slows new connections and partitions; then the database is read
# directly to check what the contract promises about 503 and 504. About two minutes.
#   scripts/faults.sh    (FAULT_SEED=N: the fault schedule and workload choices of a past run)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh faults
# The verifier first, on made-up histories: it must neither miss nor invent a violation.
.venv/bin/python -m pytest -q -p no:cacheprovider tests/faults/test_verifier.py
# One instance of each function per worker (the campaign starts them before the
# faults), so no request waits for another's instance.
export FAULT_WORKERS=${FAULT_WORKERS:-8}
export WATCH_CONCURRENCY=${WATCH_CONCURRENCY:-$FAULT_WORKERS}
# The functions log as deployed (Lambda's JSON format): the campaign checks each answer
# against the function's request line and its DatabaseUnavailable count.
export AWS_LAMBDA_LOG_FORMAT=JSON
DEV_API_FAULTS=1 exec scripts/with-dev-api.sh .venv/bin/python tests/faults/campaign.py
