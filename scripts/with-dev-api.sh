#!/usr/bin/env bash
# Runs COMMAND against the API as `make dev` runs it (every function under the patched
# `cargo lambda watch`), on a throwaway PostgreSQL and a fresh signing secret, then
# stops it all. COMMAND finds the API at $API_URL (the database at $DATABASE_URL, the
# functions' log at $DEV_API_LOG).
# Used by the end-to-end tests, `make bench-dev` and the fault campaign.
#   scripts/with-dev-api.sh COMMAND [ARGS...]
#
# DEV_API_FAULTS=1 puts Debian's PgBouncer (transaction mode, Neon's pooled endpoint, as
# testkit/src/cluster.rs starts it) in front of that PostgreSQL and the fault proxy
# (tests/support/fault_proxy.py) in front of PgBouncer, and points the functions'
# DATABASE_URL at the proxy. COMMAND then also gets FAULT_PROXY_CONTROL (host:port of
# the proxy's control) and DIRECT_DATABASE_URL (straight to PostgreSQL, to verify).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/lib.sh

tmp=$(temp_dir dev-api)
dev_pid=""
proxy_pid=""
pooler_pid=""
# On any exit: keep the logs when it failed, stop what was started, remove $tmp.
# shellcheck disable=SC2317  # run by the EXIT trap, which shellcheck does not follow
cleanup() {
  local status=$?
  if [ "$status" -ne 0 ] && [ -f "$tmp/dev.log" ]; then
    cp "$tmp/dev.log" /tmp/todo-dev-api-functions.log
    echo "---- the functions' log is kept in /tmp/todo-dev-api-functions.log; its end: ----"
    tail -20 "$tmp/dev.log"
  fi
  if [ "$status" -ne 0 ] && [ -f "$tmp/fault-proxy.log" ]; then
    cp "$tmp/fault-proxy.log" /tmp/todo-dev-api-fault-proxy.log
    cp "$tmp/pgbouncer/pgbouncer.log" /tmp/todo-dev-api-pgbouncer.log 2>/dev/null || true
    echo "---- the fault proxy's and PgBouncer's logs are kept in /tmp/todo-dev-api-{fault-proxy,pgbouncer}.log ----"
  fi
  if [ -n "$dev_pid" ]; then stop_group "$dev_pid"; fi
  if [ -n "$proxy_pid" ]; then stop_group "$proxy_pid"; fi
  if [ -n "$pooler_pid" ]; then stop_group "$pooler_pid"; fi
  scripts/pg.sh stop "$tmp/pg"
  rm -rf "$tmp"
}
trap cleanup EXIT

# Assigned, then exported: `export X=$(cmd)` would hide a failing cmd. A database of its
# own, always: never the developer's (.local/pg), whatever the environment holds.
PORT=$(free_port)
pg_port=$(free_port)
DATABASE_URL=$(scripts/pg.sh start "$tmp/pg" "$pg_port")
[ -n "$DATABASE_URL" ] || die "scripts/pg.sh start printed no URL"
BETTER_AUTH_SECRET=$(openssl rand -hex 32)
API_URL="http://127.0.0.1:$PORT"
DEV_API_LOG="$tmp/dev.log"
SECRETS_SEEN="$tmp/secrets-seen"
export PORT DATABASE_URL BETTER_AUTH_SECRET API_URL DEV_API_LOG SECRETS_SEEN

wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

if [ -n "${DEV_API_FAULTS:-}" ]; then
  pooler=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
  [ -x "$pooler" ] || die "pgbouncer is missing (scripts/setup.sh faults)"
  pooler_port=$(free_port)
  proxy_port=$(free_port)
  control_port=$(free_port)
  mkdir "$tmp/pgbouncer"
  cat >"$tmp/pgbouncer/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$pg_port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $pooler_port
unix_socket_dir =
auth_type = trust
auth_file = $tmp/pgbouncer/users.txt
pool_mode = transaction
max_client_conn = 400
default_pool_size = 20
logfile = $tmp/pgbouncer/pgbouncer.log
INI
  echo '"postgres" ""' >"$tmp/pgbouncer/users.txt"
  # PgBouncer refuses to run as root: as PostgreSQL's owner then, like pg.sh (not
  # lib.sh's as_postgres, a function: setsid must start the group that cleanup stops).
  run_pooler=("$pooler" "$tmp/pgbouncer/pgbouncer.ini")
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$tmp/pgbouncer"
    run_pooler=(runuser -u postgres -- "${run_pooler[@]}")
  fi
  setsid "${run_pooler[@]}" >"$tmp/pgbouncer/stdout.log" 2>&1 &
  pooler_pid=$!
  wait_port "$pooler_port" || { cat "$tmp/pgbouncer/"*.log >&2; die "pgbouncer did not start"; }
  setsid python3 tests/support/fault_proxy.py --listen "$proxy_port" \
    --upstream "127.0.0.1:$pooler_port" --control "$control_port" >"$tmp/fault-proxy.log" 2>&1 &
  proxy_pid=$!
  wait_port "$control_port" || { cat "$tmp/fault-proxy.log" >&2; die "the fault proxy did not start"; }
  DIRECT_DATABASE_URL=$DATABASE_URL
  DATABASE_URL="postgres://postgres@127.0.0.1:$proxy_port/todo?sslmode=disable"
  FAULT_PROXY_CONTROL="127.0.0.1:$control_port"
  export DIRECT_DATABASE_URL DATABASE_URL FAULT_PROXY_CONTROL
fi
# No hot reload: files the test tools write must not restart the functions mid-run.
export WATCH_ARGS=--ignore-changes

# DEV_NO_LOCAL_PG: dev.sh uses this DATABASE_URL or stops; it never falls back to
# the developer's .local/pg.
DEV_NO_LOCAL_PG=1 setsid scripts/dev.sh >"$tmp/dev.log" 2>&1 &
dev_pid=$!
for _ in $(seq 1 600); do
  grep -q "Todo API is running" "$tmp/dev.log" 2>/dev/null && break
  kill -0 "$dev_pid" 2>/dev/null || die "make dev exited"
  sleep 0.5
done
grep -q "Todo API is running" "$tmp/dev.log" || die "the API did not start"

status=0
"$@" || status=$?
python3 tests/support/log_scan.py "$DEV_API_LOG" "$SECRETS_SEEN" || status=1
# The script exits with COMMAND's status (or the scan's), which cleanup reads.
exit "$status"
