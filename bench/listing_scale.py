#!/usr/bin/env python3
"""The listing at scale: what a page costs as one owner's task count grows from 100 to
1 000 000, measured the way Lambda runs the `tasks` function (the Runtime API stand-in
of tests/support, one warm release instance, PostgreSQL on loopback).

Four owners get 100, 10 000, 100 000 and 1 000 000 tasks, inserted straight into
PostgreSQL (a third completed, titles with many ties, spread over time), then VACUUM
ANALYZE. Per owner and shape, warm invocations alternate across owners in rounds (this
machine drifts over minutes), and the median and p95 round trip are printed:

- page 1, the default sort (newest first);
- page 1 sorted by title;
- page 1 of the open tasks (`completed=false`);
- a cursor page in the middle of the list (the cursor of the page before it);
- the last page, by cursor;
- and, without a target, the middle page asked for by number (`page=`), which skips
  the pages before it.

Target (issue 23): every shape read by cursor or first page at 1 000 000 tasks within
1.5x of the same shape at 100. Exits 1 when one misses.
Usage: bench/listing_scale.py --bin-dir target/release --database-url URL [--json FILE]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests/support"))
sys.path.insert(0, str(ROOT / "bench"))
from lambda_bench import SECRET, new_user, percentile  # noqa: E402
from lambda_runtime import Function, event  # noqa: E402

SIZES = [100, 10_000, 100_000, 1_000_000]
PAGE_SIZE = 20
ROUNDS = 5
CALLS = 40  # per round, owner and shape
GROWTH_MAX = 1.5


def psql(url, sql):
    return subprocess.run(["psql", url, "-qtAX", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def seed(url, user, n):
    psql(url, f"""
        INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at)
        SELECT '{user}', 'task ' || lpad((g % 9973)::text, 4, '0'), NULL, g % 3 = 0,
            now() - g * interval '1 second', now() - (g % 86400) * interval '1 second'
        FROM generate_series(1, {n}) g""")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", default=str(ROOT / "target/release"))
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    bins, url = Path(args.bin_dir), args.database_url
    env = {"DATABASE_URL": url, "BETTER_AUTH_SECRET": SECRET}

    owners = {}
    for n in SIZES:
        bearer, user = new_user(bins, env, f"scale{n}x{os.getpid()}")
        owners[n] = (user, bearer)
    for n in SIZES:
        print(f"  seeding {n} tasks", file=sys.stderr)
        seed(url, owners[n][0], n)
    psql(url, "VACUUM ANALYZE tasks")
    psql(url, "VACUUM ANALYZE task_counts")

    fn = Function(bins / "tasks", env)
    try:
        def get(n, query):
            user, bearer = owners[n]
            ms, r = fn.call(event("GET", f"/api/{user}/tasks", None, bearer, query))
            assert r["statusCode"] == 200, r
            return ms, json.loads(r["body"])

        shapes = {}
        for n in SIZES:
            pages = -(-n // PAGE_SIZE)
            middle = pages // 2
            _, before_middle = get(n, f"page_size={PAGE_SIZE}&page={middle - 1}")
            _, before_last = get(n, f"page_size={PAGE_SIZE}&page={pages - 1}")
            shapes[n] = {
                "page 1 (newest first)": f"page_size={PAGE_SIZE}",
                "page 1 by title": f"page_size={PAGE_SIZE}&sort_by=title&sort_order=asc",
                "page 1, completed=false": f"page_size={PAGE_SIZE}&completed=false",
                "a middle page by cursor": f"cursor={before_middle['next_cursor']}",
                "the last page by cursor": f"cursor={before_last['next_cursor']}",
                "the middle page by number (no target)": f"page_size={PAGE_SIZE}&page={middle}",
            }
            # What each shape answers, once: a page of tasks, the right total.
            for shape, query in shapes[n].items():
                _, body = get(n, query)
                expected = n - n // 3 if "completed=false" in shape else n
                assert body["items"] and body["total"] == expected, (n, shape, body["total"])
        times = {(n, shape): [] for n in SIZES for shape in shapes[n]}
        for _ in range(ROUNDS):
            for n in SIZES:
                for shape, query in shapes[n].items():
                    get(n, query)  # the first after another shape warms its path
                    times[(n, shape)] += [get(n, query)[0] for _ in range(CALLS)]
    finally:
        fn.stop()

    names = list(shapes[SIZES[0]])
    print()
    print(f"Listing at scale: warm round trip of GET /api/{{user}}/tasks, median (p95) in ms over "
          f"{ROUNDS * CALLS} calls, one owner of each size, page_size {PAGE_SIZE}.")
    print()
    print("| listing | " + " | ".join(f"{n:,} tasks".replace(",", " ") for n in SIZES)
          + " | 1 000 000 / 100 |")
    print("| --- | " + " | ".join("---:" for _ in SIZES) + " | ---: |")
    checks = []
    for shape in names:
        p50 = [statistics.median(times[(n, shape)]) for n in SIZES]
        p95 = [percentile(times[(n, shape)], 95) for n in SIZES]
        cells = " | ".join(f"{a:.2f} ({b:.2f})" for a, b in zip(p50, p95))
        print(f"| {shape} | {cells} | x{p50[-1] / p50[0]:.2f} |")
        if "no target" not in shape:
            checks.append((shape, p50[0], p50[-1]))
    print()
    for shape, small, large in checks:
        ok = large <= small * GROWTH_MAX
        print(f"{'PASS' if ok else 'FAIL'}  listing at scale, {shape}: {large:.2f} ms at 1 000 000 "
              f"<= {GROWTH_MAX} x {small:.2f} ms at 100")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {f"{n}|{shape}": ms for (n, shape), ms in times.items()}))
    return 0 if all(large <= small * GROWTH_MAX for _, small, large in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
