#!/usr/bin/env bash
# Prints the path of a `cargo-lambda` built from the crates.io source of version
# $version with the patches beside this script applied to its `cargo-lambda-watch`
# crate, building it first when this machine has none for these patches.
#
# Why: `cargo lambda watch` 1.9.2 (the newest release) acknowledges a function's
# response before reading it, so responses over ~16 KiB stall or fail, and it answers
# a non-UTF-8 request body, or a header value that is not UTF-8, with its own 500
# (0001, 0002). And:
#   0003: every event's sourceIp was 127.0.0.1; now it is the client's address.
#   0004: over 100 invocations of one function waiting at once hung watch for good.
# Each .patch file says what it changes and why, in a form that applies upstream
# unchanged (`git am`, in order).
#
# The build is cached per machine under $TODO_TOOLS_CACHE (default
# ~/.cache/todo-lambda), keyed by the hash of the patches and of this script, so a
# fresh clone reuses it and a changed patch rebuilds. cargo-lambda's own Cargo.lock
# pins every dependency. `make dev` and the end-to-end tests use this binary for
# `cargo lambda watch`; `cargo lambda build` (and so `sam build`) keeps the PyPI
# release, which brings zig.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR/../../scripts source=lib.sh
. "$here/../../scripts/lib.sh"
version=1.9.2

key=$(cat "$here/build.sh" "$here"/*.patch | sha256sum | cut -c1-16)
cache=${TODO_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/todo-lambda}
dest="$cache/cargo-lambda-$version-$key"
if [ -x "$dest/bin/cargo-lambda" ]; then
  echo "$dest/bin/cargo-lambda"
  exit 0
fi

work=$(temp_dir cargo-lambda-build)
trap 'rm -rf "$work"' EXIT
started=$SECONDS

# 1. The sources, through cargo: a throwaway package that depends on both crates.
say "fetching cargo-lambda $version from crates.io"
mkdir -p "$work/fetch/src"
touch "$work/fetch/src/lib.rs"
cat >"$work/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-cargo-lambda"
version = "0.0.0"
edition = "2021"
[dependencies]
cargo-lambda = "=$version"
cargo-lambda-watch = "=$version"
TOML
cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml"
# `cargo metadata` lists the library crate; the binary crate (no lib target, so cargo
# ignores it as a dependency once fetched) was unpacked beside it.
watch_src=$(cargo metadata --quiet --format-version 1 --manifest-path "$work/fetch/Cargo.toml" \
  | python3 -c 'import json,os,sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "cargo-lambda-watch" and p["version"] == sys.argv[1]:
        print(os.path.dirname(p["manifest_path"]))' "$version")
[ -n "$watch_src" ] || die "cargo metadata lists no cargo-lambda-watch $version"
cli_src="$(dirname "$watch_src")/cargo-lambda-$version"
[ -f "$cli_src/Cargo.lock" ] || die "cargo-lambda $version not found beside $watch_src"
mkdir -p "$work/src/crates"
cp -R "$cli_src" "$work/src/cargo-lambda"
cp -R "$watch_src" "$work/src/crates/cargo-lambda-watch"
chmod -R u+w "$work/src"

# 2. The patches, laid out as in the upstream repository (crates/cargo-lambda-watch).
for patch in "$here"/*.patch; do
  say "applying $(basename "$patch")"
  patch -d "$work/src" -p1 --quiet --forward <"$patch"
done
cat >>"$work/src/cargo-lambda/Cargo.toml" <<'TOML'

[patch.crates-io]
cargo-lambda-watch = { path = "../crates/cargo-lambda-watch" }
TOML

# 3. Build with the release's own Cargo.lock (only the patched crate's entry changes).
#    The dev profile without debug info: a local proxy needs no optimisation, and it
#    builds in 4 minutes here where `--release` takes 11. Without debug assertions:
#    clap's would reject 1.9.2's own `watch` arguments (`tls_cert` conflicts with a
#    `remote` argument that `watch` does not have), which release builds never check.
say "building patched cargo-lambda $version (once per machine; a few minutes)"
CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_DEV_INCREMENTAL=false \
  CARGO_PROFILE_DEV_DEBUG_ASSERTIONS=false CARGO_PROFILE_DEV_OVERFLOW_CHECKS=false \
  cargo build --quiet --bin cargo-lambda \
  --manifest-path "$work/src/cargo-lambda/Cargo.toml" --target-dir "$work/target"
mkdir -p "$dest.tmp/bin"
cp "$work/target/debug/cargo-lambda" "$dest.tmp/bin/"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
say "patched cargo-lambda built in $((SECONDS - started)) s: $dest/bin/cargo-lambda"
echo "$dest/bin/cargo-lambda"
