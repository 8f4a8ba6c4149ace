# shellcheck shell=bash
# Helpers the project's scripts share. Sourced, never run:
#   . scripts/lib.sh              (after `cd` to the repository root)
# It only defines functions (and makes `set -e` reach into `$(...)`); each script sets
# its own `set -euo pipefail` and working directory.
#
# Call the helpers that print a value as an assignment, `port=$(free_port)`: a failing
# command substitution then stops the script (`set -e`). Inside another command's
# arguments, `cmd "$(free_port)"`, its failure would go unnoticed; so would
# `export X=$(cmd)` and `local x=$(cmd)` (assign first, then export).

# `set -e` inside command substitutions too: a helper that fails within `x=$(helper)`
# stops there (and the assignment fails) instead of printing half a result.
shopt -s inherit_errexit

# say MESSAGE: a progress line on stderr.
say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

# die MESSAGE: the message on stderr, then exit 1 (from `$(...)`: that subshell fails).
die() {
  printf '%s\n' "$*" >&2
  exit 1
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  [[ $port =~ ^[0-9]+$ ]] || die "free_port: no port found (python3 printed '$port')"
  echo "$port"
}

# temp_dir NAME: makes and prints a new directory /tmp/todo-NAME.XXXXXX. World-readable:
# when run as root, PostgreSQL and PgBouncer run as `postgres` (scripts/pg.sh) and must
# reach what is made in it. The caller removes it (a trap on EXIT).
temp_dir() {
  local dir
  dir=$(mktemp -d "/tmp/todo-${1:?temp_dir NAME}.XXXXXX")
  chmod 755 "$dir"
  echo "$dir"
}

# as_postgres COMMAND [ARGS...]: runs COMMAND as the `postgres` user when root (initdb,
# pg_ctl and PgBouncer refuse to run as root), as the current user otherwise.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# stop_group PID: SIGTERM to the process group that PID leads (started as `setsid CMD &`)
# or, when it leads none, to PID alone; then waits for PID to end.
stop_group() {
  kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
