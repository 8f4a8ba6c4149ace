#!/usr/bin/env bash
# Runs the API locally (README: `make dev`): every function under `cargo lambda watch`
# at http://127.0.0.1:9000, on the same paths as API Gateway.
#
# - DATABASE_URL (and DATABASE_URL_SECRET_ARN) unset: a local PostgreSQL kept in
#   .local/pg (data survives restarts; `make dev-reset` deletes it). Set but empty, it
#   is an error, never .local/pg: the command meant to give it failed
#   (`DATABASE_URL=$(cmd) make dev`).
# - DEV_NO_LOCAL_PG=1 (scripts/with-dev-api.sh sets it): never .local/pg; DATABASE_URL
#   must name the database, or this stops.
# - BETTER_AUTH_SECRET unset: a development secret made once in .local/dev-secret.
# - CORS_ALLOW_ORIGINS unset: the usual front-end dev servers (3000, 5173).
# Ctrl-C stops everything this started.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/lib.sh

# Which database, decided before anything starts: only a caller that named none gets
# the local one.
use_local_pg=""
if [ -n "${DEV_NO_LOCAL_PG:-}" ]; then
  [ -n "${DATABASE_URL:-}" ] \
    || die "dev.sh: DEV_NO_LOCAL_PG is set but DATABASE_URL is empty: the caller's database did not start (refusing .local/pg)"
else
  for name in DATABASE_URL DATABASE_URL_SECRET_ARN; do
    if [ -n "${!name+set}" ] && [ -z "${!name}" ]; then
      die "dev.sh: $name is set but empty (did the command meant to give it fail?). Unset it for the local PostgreSQL in .local/pg."
    fi
  done
  if [ -z "${DATABASE_URL:-}" ] && [ -z "${DATABASE_URL_SECRET_ARN:-}" ]; then use_local_pg=1; fi
fi

scripts/setup.sh dev

port=${PORT:-9000}
pg_port=${DEV_PG_PORT:-54329}
mkdir -p .local
started_pg=""
watch_pid=""

cleanup() {
  trap - EXIT INT TERM
  if [ -n "$watch_pid" ]; then stop_group "$watch_pid"; fi
  if [ -n "$started_pg" ]; then scripts/pg.sh stop "$started_pg"; fi
  echo "stopped." >&2
}
trap cleanup EXIT INT TERM

if [ -n "$use_local_pg" ]; then
  started_pg=.local/pg
  DATABASE_URL=$(scripts/pg.sh start "$started_pg" "$pg_port")
  [ -n "$DATABASE_URL" ] || die "scripts/pg.sh start printed no URL"
fi
if [ -z "${BETTER_AUTH_SECRET:-}" ] && [ -z "${BETTER_AUTH_SECRET_ARN:-}" ]; then
  [ -s .local/dev-secret ] || (umask 077 && openssl rand -hex 32 > .local/dev-secret)
  BETTER_AUTH_SECRET=$(cat .local/dev-secret)
fi
export DATABASE_URL BETTER_AUTH_SECRET
export CORS_ALLOW_ORIGINS=${CORS_ALLOW_ORIGINS:-http://localhost:3000,http://localhost:5173,http://127.0.0.1:3000,http://127.0.0.1:5173}
export LOG_FORMAT=${LOG_FORMAT:-text}
export BCRYPT_COST=${BCRYPT_COST:-10}
# cargo lambda watch sets no region; the SDK wants one only if an ARN is used.
export AWS_REGION=${AWS_REGION:-us-east-1}

db_note="DATABASE_URL (or its secret) from the environment"
[ -n "$started_pg" ] && db_note="local PostgreSQL in $started_pg (port $pg_port; make dev-reset empties it)"

echo "==> building the functions" >&2
cargo build --workspace --bins --quiet

echo "==> starting cargo lambda watch on 127.0.0.1:$port" >&2
# The patched build (tools/cargo-lambda: large responses never stall). Its own process
# group, so Ctrl-C and cleanup reach the functions it starts. Up to WATCH_CONCURRENCY
# instances of each function run side by side when requests queue, as Lambda scales
# out. WATCH_ARGS adds flags (the end-to-end tests pass --ignore-changes).
cargo_lambda=$(tools/cargo-lambda/build.sh)
[ -x "$cargo_lambda" ] || die "tools/cargo-lambda/build.sh gave no cargo-lambda ($cargo_lambda)"
# shellcheck disable=SC2086 # WATCH_ARGS may hold several flags, split on purpose
setsid "$cargo_lambda" lambda watch --disable-cors \
  --invoke-address 127.0.0.1 --invoke-port "$port" \
  --concurrency "${WATCH_CONCURRENCY:-4}" ${WATCH_ARGS:-} &
watch_pid=$!

base="http://127.0.0.1:$port"
for _ in $(seq 1 240); do
  if curl -fsS -o /dev/null "$base/api/health" 2>/dev/null; then break; fi
  kill -0 "$watch_pid" 2>/dev/null || die "cargo lambda watch exited"
  sleep 0.5
done
curl -fsS -o /dev/null "$base/api/health" || die "the API did not become healthy"

cat <<TEXT

  Todo API is running (Ctrl-C to stop)
    Swagger UI   $base/docs   (every route, with "Try it out")
    OpenAPI      $base/openapi.yaml  $base/openapi.json
    Health       $base/api/health
    Database     $db_note

TEXT
wait "$watch_pid"
