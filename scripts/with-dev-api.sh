#!/usr/bin/env bash
# Runs COMMAND against the API as `make dev` runs it (every function under the patched
# `cargo lambda watch`), on a throwaway PostgreSQL and a fresh signing secret, then
# stops it all. COMMAND finds the API at $API_URL (and the database at $DATABASE_URL).
# Used by the end-to-end tests and `make bench`.
#   scripts/with-dev-api.sh COMMAND [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

tmp=$(mktemp -d /tmp/todo-dev-api.XXXXXX)
chmod 755 "$tmp"
dev_pid=""
status=0
cleanup() {
  if [ "$status" -ne 0 ] && [ -f "$tmp/dev.log" ]; then
    cp "$tmp/dev.log" /tmp/todo-dev-api-functions.log
    echo "---- the functions' log is kept in /tmp/todo-dev-api-functions.log; its end: ----"
    tail -20 "$tmp/dev.log"
  fi
  if [ -n "$dev_pid" ]; then
    kill -TERM -- "-$dev_pid" 2>/dev/null || true
    wait "$dev_pid" 2>/dev/null || true
  fi
  scripts/pg.sh stop "$tmp/pg"
  rm -rf "$tmp"
}
trap cleanup EXIT

export PORT=$(free_port)
export DATABASE_URL=$(scripts/pg.sh start "$tmp/pg" "$(free_port)")
export BETTER_AUTH_SECRET=$(openssl rand -hex 32)
export API_URL="http://127.0.0.1:$PORT"
# No hot reload: files the test tools write must not restart the functions mid-run.
export WATCH_ARGS=--ignore-changes

setsid scripts/dev.sh >"$tmp/dev.log" 2>&1 &
dev_pid=$!
for _ in $(seq 1 600); do
  grep -q "Todo API is running" "$tmp/dev.log" 2>/dev/null && break
  kill -0 "$dev_pid" 2>/dev/null || { status=1; echo "make dev exited" >&2; exit 1; }
  sleep 0.5
done
grep -q "Todo API is running" "$tmp/dev.log" || { status=1; echo "the API did not start" >&2; exit 1; }

"$@" || status=$?
exit "$status"
