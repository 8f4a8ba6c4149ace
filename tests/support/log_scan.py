"""Fails when a log holds a secret: run by scripts/with-dev-api.sh over everything the
functions wrote while a test command ran against `make dev`.

    python3 tests/support/log_scan.py LOG [SEEN]

What it looks for:
- any JSON Web Token (three base64url parts, the first two JSON objects: `eyJ…`), the
  shape of every access token, whoever issued it;
- the signing secrets and the database password of this run, from the environment
  (`BETTER_AUTH_SECRET`, `JWT_SECRET`, the password in `DATABASE_URL`);
- every value listed in SEEN (one per line): the passwords the tests sent and the tokens
  they were given, recorded as they went (tests/e2e/conftest.py, scripts/e2e.sh).

It prints where each finding is, never the value itself (the output is a log too)."""

import os
import re
import sys
from urllib.parse import urlsplit

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+")
# Short values (e.g. a one-letter password a validation test sends) would match by
# chance in any log; every secret the tests use is longer.
MIN_LENGTH = 8


def secrets(seen_file: str | None) -> dict[str, str]:
    """Value -> where it came from (the name printed instead of the value)."""
    found = {}
    for name in ("BETTER_AUTH_SECRET", "JWT_SECRET"):
        if os.environ.get(name):
            found[os.environ[name]] = name
    password = urlsplit(os.environ.get("DATABASE_URL", "")).password
    if password:
        found[password] = "the password in DATABASE_URL"
    if seen_file and os.path.exists(seen_file):
        for n, line in enumerate(open(seen_file, encoding="utf-8").read().splitlines(), 1):
            if line:
                found.setdefault(line, f"{os.path.basename(seen_file)} line {n}")
    return {value: name for value, name in found.items() if len(value) >= MIN_LENGTH}


def scan(log: str, seen_file: str | None) -> list[str]:
    text = open(log, encoding="utf-8", errors="replace").read()
    findings = []
    watched = secrets(seen_file)
    for number, line in enumerate(text.splitlines(), 1):
        if JWT.search(line):
            findings.append(f"{log}:{number}: a JSON Web Token")
        for value, name in watched.items():
            if value in line:
                findings.append(f"{log}:{number}: {name}")
    return findings


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    log, seen = sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None
    if not os.path.exists(log):
        print(f"log_scan: {log} does not exist", file=sys.stderr)
        return 2
    findings = scan(log, seen)
    count = len(secrets(seen))
    if findings:
        print(f"log_scan: secrets in the functions' log ({len(findings)} lines):", file=sys.stderr)
        for finding in findings[:50]:
            print(f"  {finding}", file=sys.stderr)
        return 1
    lines = sum(1 for _ in open(log, encoding="utf-8", errors="replace"))
    print(f"log_scan: {lines} log lines, no token and none of {count} secrets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
