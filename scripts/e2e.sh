#!/usr/bin/env bash
# End-to-end: against the API as `make dev` runs it (scripts/with-dev-api.sh starts one
# on a throwaway PostgreSQL unless API_URL is set), drives every route over HTTP
# (pytest, tests/e2e, Swagger UI in headless Chromium included), then runs schemathesis
# against openapi.yaml with a valid token.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${API_URL:-}" ]; then exec scripts/with-dev-api.sh "$0" "$@"; fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/lib.sh

status=0
.venv/bin/python -m pytest -q -p no:cacheprovider tests/e2e || status=$?

# A user and a token for schemathesis: task paths are fixed to that user's id.
name="fuzzer$RANDOM$RANDOM"
session=$(curl -fsS -X POST "$API_URL/api/auth/signup" -H 'content-type: application/json' \
  -d "{\"username\":\"$name\",\"email\":\"$name@example.com\",\"password\":\"s3cret-pass\",\"confirm_password\":\"s3cret-pass\"}")
TODO_TOKEN=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' <<<"$session")
TODO_USER_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["id"])' <<<"$session")
if [ -z "$TODO_TOKEN" ] || [ -z "$TODO_USER_ID" ]; then die "signup gave no token or user id: $session"; fi
export TODO_TOKEN TODO_USER_ID
if [ -n "${SECRETS_SEEN:-}" ]; then printf '%s\n' "$TODO_TOKEN" s3cret-pass >>"$SECRETS_SEEN"; fi
echo "==> schemathesis run openapi.yaml --url $API_URL"
root=$PWD
# schemathesis writes its cache and reports where it runs: a folder of its own.
work=$(temp_dir schemathesis)
trap 'rm -rf "$work"' EXIT
(cd "$work" && "$root/.venv/bin/schemathesis" --config-file "$root/tests/e2e/schemathesis.toml" \
  run "$root/openapi.yaml" --url "$API_URL" --seed 1 \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-25}") || status=$?
exit "$status"
