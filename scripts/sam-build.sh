#!/usr/bin/env bash
# `sam build`, then checks that each function got an arm64 (aarch64) `bootstrap` and
# prints its size, and what it zips to (what `sam deploy` uploads).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0
AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} sam build --template template.yaml
for fn in AuthFunction TasksFunction TaskFunction CompleteFunction DocsFunction; do
  bin=.aws-sam/build/$fn/bootstrap
  # ELF e_machine (bytes 18-19, little-endian) is 0xB7 for aarch64.
  machine=$(od -An -tx1 -j18 -N2 "$bin" | tr -d ' \n')
  [ "$machine" = "b700" ] || { echo "$bin is not an arm64 ELF (e_machine $machine)" >&2; exit 1; }
  zipped=$(python3 -c 'import io, sys, zipfile
b = io.BytesIO()
with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z: z.write(sys.argv[1], "bootstrap")
print(len(b.getvalue()))' "$bin")
  size=$(stat -c %s "$bin")
  awk -v fn="$fn" -v size="$size" -v zipped="$zipped" 'BEGIN {
    printf "%-18s arm64 bootstrap %5.2f MB, zipped %5.2f MB\n", fn, size / 1000000, zipped / 1000000
  }'
done
