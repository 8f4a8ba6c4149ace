#!/usr/bin/env bash
# Runs shellcheck over every shell script of the repository (`make test` does): files
# named *.sh and those whose #! line runs bash or sh (.ci/run), tracked or new (not
# ignored). vendor/ is left out: others' code, kept as published. Files they source
# (scripts/lib.sh) are followed. Arguments go to shellcheck.
#   scripts/shellcheck.sh [SHELLCHECK_OPTION...]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/lib.sh
command -v shellcheck >/dev/null || die "shellcheck is missing (scripts/setup.sh test installs it)"

shebang='^#!.*[/[:space:]](ba)?sh([[:space:]]|$)'
files=()
while IFS= read -r -d '' file; do
  case "$file" in vendor/*) continue ;; esac
  [ -f "$file" ] || continue # deleted in the work tree
  first=""
  IFS= read -r first <"$file" || true
  if [[ $file == *.sh || $first =~ $shebang ]]; then files+=("$file"); fi
done < <(git ls-files -z --cached --others --exclude-standard)
[ "${#files[@]}" -gt 0 ] || die "no shell script found (not a git checkout?)"

shellcheck -x "$@" "${files[@]}"
echo "shellcheck: ${#files[@]} scripts, no findings"
