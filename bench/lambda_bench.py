#!/usr/bin/env python3
"""Cold start and warm latency of each function, measured the way Lambda runs them.

This script plays the Lambda Runtime API (the HTTP interface a function's runtime
polls for events) on loopback, starts each release binary as Lambda would, and times:

- init: from exec to the runtime's first `GET /invocation/next` (config, secrets,
  pool, keys, migration check: everything built once per cold start);
- first: the first invocation (opens the first database connection);
- warm p50/p95/p99: further invocations of the same route.

Events are API Gateway HTTP API (2.0) events built from shared/fixtures. Usage:
    bench/lambda_bench.py --bin-dir target/release --database-url URL [-n 300]
(`make bench` builds the binaries, starts a throwaway PostgreSQL and runs this.)
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests/support"))
from lambda_runtime import Function, event  # noqa: E402  (the Runtime API stand-in)

SECRET = "bench-secret-0123456789-0123456789-abcdef"


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", default=str(ROOT / "target/release"))
    parser.add_argument("--database-url", required=True)
    parser.add_argument("-n", type=int, default=300, help="warm invocations per route")
    args = parser.parse_args()
    bins = Path(args.bin_dir)
    env = {"DATABASE_URL": args.database_url, "BETTER_AUTH_SECRET": SECRET, "BCRYPT_COST": "10"}

    # A user and 100 tasks to read.
    auth = Function(bins / "auth", env)
    _, session = auth.call(event("POST", "/api/auth/signup", {
        "username": "bench", "email": "bench@example.com",
        "password": "s3cret-pass", "confirm_password": "s3cret-pass"}))
    auth.stop()
    session = json.loads(session["body"])
    token, user = session["access_token"], session["user"]["id"]
    bearer = {"authorization": f"Bearer {token}"}

    scenarios = [
        ("docs", "GET /api/health", lambda: event("GET", "/api/health")),
        ("docs", "GET /openapi.json", lambda: event("GET", "/openapi.json")),
        ("auth", "POST /api/auth/login (bcrypt 10)", lambda: event("POST", "/api/auth/login", {"username": "bench", "password": "s3cret-pass"})),
        ("tasks", "POST /api/{user}/tasks", lambda: event("POST", f"/api/{user}/tasks", {"title": "bench task"}, bearer)),
        ("tasks", "GET /api/{user}/tasks (20 of 100+)", lambda: event("GET", f"/api/{user}/tasks", None, bearer, "page=2&page_size=20&sort_by=title")),
        ("task", "GET /api/{user}/tasks/{id}", None),
        ("complete", "PATCH /api/{user}/tasks/{id}/complete", None),
    ]
    creator = Function(bins / "tasks", env)
    task_id = None
    for i in range(100):
        _, r = creator.call(event("POST", f"/api/{user}/tasks", {"title": f"task {i}"}, bearer))
        task_id = json.loads(r["body"])["id"]
    creator.stop()

    rows = []
    for function, label, make in scenarios:
        if make is None:
            path = f"/api/{user}/tasks/{task_id}" + ("/complete" if function == "complete" else "")
            method = "PATCH" if function == "complete" else "GET"
            make = (lambda m, p: lambda: event(m, p, None, bearer))(method, path)
        f = Function(bins / function, env)
        first, response = f.call(make())
        assert response["statusCode"] < 400, response
        n = args.n if "bcrypt" not in label else max(20, args.n // 10)
        warm = [f.call(make())[0] for _ in range(n)]
        rows.append((function, label, f.init_ms, first, percentile(warm, 50), percentile(warm, 95), percentile(warm, 99), n))
        f.stop()

    print()
    print(f"| function | route | init ms | first ms | warm p50 ms | warm p95 ms | warm p99 ms | n |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for function, label, init, first, p50, p95, p99, n in rows:
        print(f"| {function} | {label} | {init:.1f} | {first:.1f} | {p50:.2f} | {p95:.2f} | {p99:.2f} | {n} |")


if __name__ == "__main__":
    main()
