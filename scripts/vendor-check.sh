#!/usr/bin/env bash
# Each folder in vendor/ must be exactly its crates.io release with the patch beside it
# applied (vendor/README.md): fetch the release, apply the patch, compare. A copy that
# drifted (an edit not in the patch, a patch not applied, a different release) fails.
# The one file allowed beyond the release is a LICENSE the release does not ship.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# vendor/<name>-<version>/ → name and version (a crate's name may contain '-').
folders=()
for dir in vendor/*/; do
  folders+=("$(basename "$dir")")
done
if [ "${#folders[@]}" -eq 0 ]; then
  echo "vendor/ holds no crate" >&2
  exit 1
fi

# One scratch project that depends on every release, so one `cargo fetch` unpacks them.
{
  printf '[package]\nname = "vendor-check"\nversion = "0.0.0"\nedition = "2021"\n\n'
  printf '[dependencies]\n'
  for folder in "${folders[@]}"; do
    name=${folder%-*}
    version=${folder##*-}
    printf '%s = { version = "=%s", default-features = false }\n' "$name" "$version"
  done
} >"$scratch/Cargo.toml"
mkdir -p "$scratch/src"
: >"$scratch/src/lib.rs"
cargo fetch --quiet --manifest-path "$scratch/Cargo.toml"

registry=${CARGO_HOME:-$HOME/.cargo}/registry/src
failed=0
for folder in "${folders[@]}"; do
  name=${folder%-*}
  patches=(vendor/"$folder"-*.patch)
  if [ ! -f "${patches[0]}" ] || [ "${#patches[@]}" -ne 1 ]; then
    echo "vendor/$folder: expected exactly one vendor/$folder-*.patch" >&2
    failed=1
    continue
  fi
  release=$(find "$registry" -mindepth 2 -maxdepth 2 -type d -name "$folder" | head -n 1)
  if [ -z "$release" ]; then
    echo "vendor/$folder: cargo fetch did not unpack $folder" >&2
    failed=1
    continue
  fi
  # The patch names paths as <crate's folder upstream>/…: lay the release out that way.
  upstream=$(sed -n 's|^diff --git a/\([^/]*\)/.*|\1|p' "${patches[0]}" | head -n 1)
  mkdir -p "$scratch/applied"
  rm -rf "${scratch:?}/applied/$upstream"
  cp -r "$release" "$scratch/applied/$upstream"
  if ! (cd "$scratch/applied" && patch --quiet -p1 --no-backup-if-mismatch) <"${patches[0]}"; then
    echo "vendor/$folder: ${patches[0]} does not apply to the release" >&2
    failed=1
    continue
  fi
  if [ ! -e "$scratch/applied/$upstream/LICENSE" ] && [ -f "vendor/$folder/LICENSE" ]; then
    cp "vendor/$folder/LICENSE" "$scratch/applied/$upstream/LICENSE"
  fi
  licences=(vendor/"$folder"/LICENSE*)
  if [ ! -f "${licences[0]}" ]; then
    echo "vendor/$folder: no LICENSE file" >&2
    failed=1
  fi
  if diff -r "$scratch/applied/$upstream" "vendor/$folder"; then
    echo "vendor/$folder = its crates.io release + ${patches[0]#vendor/}"
  else
    echo "vendor/$folder differs from its crates.io release + ${patches[0]#vendor/} (above)" >&2
    failed=1
  fi
done
exit "$failed"
