#!/usr/bin/env python3
"""The local API under load: 100 simultaneous requests, as `make dev` serves them.

Runs against $API_URL (`make bench` starts one with scripts/with-dev-api.sh: debug
builds under the patched `cargo lambda watch`, up to WATCH_CONCURRENCY instances per
function). One user with 20 tasks; a warm-up burst lets watch start its instances;
then ROUNDS bursts of 100 simultaneous requests per route, each on its own connection.
Prints one row per route with the median and p95 latency, and PASS when the median is
under the target (100 concurrent, median < 200 ms).

    API_URL=http://127.0.0.1:9000 bench/dev_api_load.py [--rounds 5] [--concurrency 100]
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

TARGET_MEDIAN_MS = 200.0


def request(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "content-type": "application/json", "connection": "close", **(headers or {})})
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as resp:
        payload = resp.read()
        status = resp.status
    return status, (time.perf_counter() - started) * 1000, payload


def burst(n, make_call):
    """n calls released at the same instant; returns [(status, ms)]."""
    gate, results = threading.Barrier(n), [None] * n

    def worker(i):
        gate.wait()
        try:
            status, ms, _ = make_call(i)
        except urllib.error.HTTPError as e:
            status, ms = e.code, float("nan")
        except Exception:  # noqa: BLE001 - a timeout or reset is a failure to count
            status, ms = 0, float("nan")
        results[i] = (status, ms)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    base = os.environ.get("API_URL", "http://127.0.0.1:9000")

    name = "load" + uuid.uuid4().hex[:10]
    _, _, body = request("POST", base + "/api/auth/signup", {
        "username": name, "email": f"{name}@example.com",
        "password": "s3cret-pass", "confirm_password": "s3cret-pass"})
    session = json.loads(body)
    uid, auth = session["user"]["id"], {"authorization": "Bearer " + session["access_token"]}
    for i in range(20):
        request("POST", f"{base}/api/{uid}/tasks", {"title": f"task {i}"}, auth)
    task_id = json.loads(request("GET", f"{base}/api/{uid}/tasks?page_size=1", headers=auth)[2])["items"][0]["id"]

    routes = [
        ("GET /api/{user}/tasks (page of 20)",
         lambda i: request("GET", f"{base}/api/{uid}/tasks?page_size=20", headers=auth)),
        ("POST /api/{user}/tasks",
         lambda i: request("POST", f"{base}/api/{uid}/tasks", {"title": f"load {i}"}, auth)),
        ("GET /api/{user}/tasks/{id}",
         lambda i: request("GET", f"{base}/api/{uid}/tasks/{task_id}", headers=auth)),
        ("GET /api/health", lambda i: request("GET", f"{base}/api/health")),
    ]
    print(f"\nLocal API under load: {args.concurrency} simultaneous requests x {args.rounds} rounds "
          f"per route, after one warm-up burst (WATCH_CONCURRENCY={os.environ.get('WATCH_CONCURRENCY', '4')})\n")
    print("| route | n | errors | median ms | p95 ms | max ms | target | result |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    failed = False
    for label, call in routes:
        burst(args.concurrency, call)  # warm-up: watch starts its instances
        results = [r for _ in range(args.rounds) for r in burst(args.concurrency, call)]
        ok = sorted(ms for status, ms in results if 200 <= status < 300)
        errors = len(results) - len(ok)
        median = statistics.median(ok) if ok else float("inf")
        p95 = ok[int(len(ok) * 0.95) - 1] if ok else float("inf")
        passed = errors == 0 and median < TARGET_MEDIAN_MS
        failed |= not passed
        print(f"| {label} | {len(results)} | {errors} | {median:.1f} | {p95:.1f} | {ok[-1] if ok else float('inf'):.1f} "
              f"| median < {TARGET_MEDIAN_MS:.0f} ms, no errors | {'PASS' if passed else 'FAIL'} |")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
