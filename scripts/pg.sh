#!/usr/bin/env bash
# The one way this project starts a PostgreSQL: a cluster in a folder of its own, run
# as the `postgres` user when root. `make dev`, the end-to-end tests, `make bench` and
# the Rust test kit (testkit/src/cluster.rs) all use it.
#   scripts/pg.sh start DIR PORT [SERVER_OPTION...]
#       creates the cluster on first use (more initdb options in $PG_INITDB_OPTIONS),
#       starts it with the SERVER_OPTIONs (e.g. -c fsync=off), creates database `todo`,
#       prints its URL
#   scripts/pg.sh stop DIR
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# bin NAME: the PostgreSQL program NAME, from PATH or Debian's newest
# /usr/lib/postgresql/*/bin; dies when there is none.
bin() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  local found
  found=$(printf '%s\n' /usr/lib/postgresql/*/bin/"$1" | sort -V | tail -n 1)
  [ -x "$found" ] || die "pg.sh: no $1 (scripts/setup.sh dev installs PostgreSQL)"
  echo "$found"
}

usage="usage: pg.sh start DIR PORT [SERVER_OPTION...] | stop DIR"
cmd=${1:?$usage}
dir=$(mkdir -p "${2:?$usage}" && cd "$2" && pwd)

case "$cmd" in
  start)
    port=${3:?$usage}
    shift 3
    initdb=$(bin initdb)
    pg_ctl=$(bin pg_ctl)
    psql=$(bin psql)
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      # shellcheck disable=SC2086 # PG_INITDB_OPTIONS holds several options, split on purpose
      as_postgres "$initdb" --auth=trust --username=postgres --encoding=UTF8 \
        --locale=C.UTF-8 ${PG_INITDB_OPTIONS:-} -D "$dir/data" >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! as_postgres "$pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_postgres "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 $*" start >/dev/null \
        || { tail -20 "$dir/server.log" >&2; exit 1; }
    fi
    sql=("$psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qtAX)
    exists=$("${sql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'todo'")
    if [ -z "$exists" ]; then
      "${sql[@]}" -c "CREATE DATABASE todo" >/dev/null
    fi
    echo "postgres://postgres@127.0.0.1:$port/todo?sslmode=disable"
    ;;
  stop)
    if [ -f "$dir/data/PG_VERSION" ]; then
      pg_ctl=$(bin pg_ctl)
      as_postgres "$pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
