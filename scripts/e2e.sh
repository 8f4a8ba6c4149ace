#!/usr/bin/env bash
# End-to-end: starts the functions the way `make dev` does (cargo lambda watch), on a
# throwaway PostgreSQL, then drives every route over HTTP (pytest), runs schemathesis
# against openapi.yaml with a valid token, and loads /docs in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

tmp=$(mktemp -d /tmp/todo-e2e.XXXXXX)
chmod 755 "$tmp"
dev_pid=""
cleanup() {
  if [ -n "${status:-0}" ] && [ "${status:-0}" -ne 0 ]; then cp "$tmp/dev.log" /tmp/todo-e2e-functions.log; fi
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
  kill -0 "$dev_pid" 2>/dev/null || { cat "$tmp/dev.log"; echo "make dev exited" >&2; exit 1; }
  sleep 0.5
done
grep -q "Todo API is running" "$tmp/dev.log" || { cat "$tmp/dev.log"; exit 1; }

status=0
.venv/bin/python -m pytest -q -p no:cacheprovider tests/e2e || status=$?

# A user and a token for schemathesis: task paths are fixed to that user's id.
session=$(curl -fsS -X POST "$API_URL/api/auth/signup" -H 'content-type: application/json' \
  -d '{"username":"fuzzer","email":"fuzzer@example.com","password":"s3cret-pass","confirm_password":"s3cret-pass"}')
export TODO_TOKEN=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' <<<"$session")
export TODO_USER_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["id"])' <<<"$session")
echo "==> schemathesis run openapi.yaml --url $API_URL"
root=$PWD
(cd "$tmp" && "$root/.venv/bin/schemathesis" --config-file "$root/tests/e2e/schemathesis.toml" \
  run "$root/openapi.yaml" --url "$API_URL" --seed 1 \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-25}") || status=$?

if [ "$status" -ne 0 ]; then
  echo "---- the functions' log is kept in /tmp/todo-e2e-functions.log; its end: ----"
  tail -20 "$tmp/dev.log"
fi
exit "$status"
