#!/usr/bin/env python3
"""The local API under load: 100 simultaneous requests, as `make dev` serves them.

Runs against $API_URL (`make bench` starts one with scripts/with-dev-api.sh: debug
builds under the patched `cargo lambda watch`, up to WATCH_CONCURRENCY instances per
function). One user with 20 tasks. Each route is measured two ways, as clients reach
it: every request on a new connection, and every request on one of 100 connections
kept alive (each opened and used once by the warm-up burst, then reused, as a browser
or an HTTP client with a pool does). Each way: a warm-up burst lets watch start its
instances, then ROUNDS bursts of 100 simultaneous requests. Prints one row per route
and way with the median, p95 and max latency, the median wall time of a burst, and
PASS when the median is under the target (100 concurrent, median < 200 ms) with no
errors.

The load generator is threads with the standard library's http.client, one connection
per thread. Not httpx's AsyncClient: its connection pool (httpcore 1.0) does work in
proportion to all its connections, a poll() per idle one included, each time a request
is queued or released, so 100 simultaneous requests over 100 pooled connections cost
the client itself about a second of CPU and its medians measure that, not the API.

    API_URL=http://127.0.0.1:9000 bench/dev_api_load.py [--rounds 5] [--concurrency 100]
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
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


class KeptAlive:
    """n persistent connections to base, one per worker: request(i, ...) uses the i-th."""

    def __init__(self, base, n):
        url = urllib.parse.urlsplit(base)
        kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        self.conns = [kind(url.hostname, url.port, timeout=60) for _ in range(n)]

    def request(self, i, method, path, body=None, headers=None):
        conn = self.conns[i]
        data = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        try:
            conn.request(method, path, body=data,
                         headers={"content-type": "application/json", **(headers or {})})
            resp = conn.getresponse()
            payload = resp.read()
        except Exception:
            conn.close()  # the next request on it opens a new one
            raise
        return resp.status, (time.perf_counter() - started) * 1000, payload

    def close(self):
        for conn in self.conns:
            conn.close()


def burst(n, make_call):
    """n calls released at the same instant; returns ([(status, ms)], wall ms)."""
    gate, results = threading.Barrier(n + 1), [None] * n

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
    gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return results, (time.perf_counter() - started) * 1000


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

    routes = [  # label, method, path, body for the i-th request, headers
        ("GET /api/{user}/tasks (page of 20)", "GET", f"/api/{uid}/tasks?page_size=20", None, auth),
        ("POST /api/{user}/tasks", "POST", f"/api/{uid}/tasks", lambda i: {"title": f"load {i}"}, auth),
        ("GET /api/{user}/tasks/{id}", "GET", f"/api/{uid}/tasks/{task_id}", None, auth),
        ("GET /api/health", "GET", "/api/health", None, None),
    ]

    # Each way gives the call for the i-th request of a burst, and what closes its connections.
    def new_connection(method, path, body, headers):
        return lambda i: request(method, base + path, body and body(i), headers), lambda: None

    def kept_alive(method, path, body, headers):
        pool = KeptAlive(base, args.concurrency)
        return lambda i: pool.request(i, method, path, body and body(i), headers), pool.close

    ways = [("new per request", new_connection), (f"{args.concurrency} kept alive", kept_alive)]
    print(f"\nLocal API under load: {args.concurrency} simultaneous requests x {args.rounds} rounds "
          f"per route and way of connecting, after one warm-up burst "
          f"(WATCH_CONCURRENCY={os.environ.get('WATCH_CONCURRENCY', '4')})\n")
    print("| route | connections | n | errors | median ms | p95 ms | max ms | burst wall ms "
          "| target | result |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    failed = False
    for label, *route in routes:
        for way, connect in ways:
            call, close = connect(*route)
            burst(args.concurrency, call)  # warm-up: watch starts its instances, connections open
            results, walls = [], []
            for _ in range(args.rounds):
                r, wall = burst(args.concurrency, call)
                results += r
                walls.append(wall)
            close()
            ok = sorted(ms for status, ms in results if 200 <= status < 300)
            errors = len(results) - len(ok)
            median = statistics.median(ok) if ok else float("inf")
            p95 = ok[int(len(ok) * 0.95) - 1] if ok else float("inf")
            passed = errors == 0 and median < TARGET_MEDIAN_MS
            failed |= not passed
            print(f"| {label} | {way} | {len(results)} | {errors} | {median:.1f} | {p95:.1f} "
                  f"| {ok[-1] if ok else float('inf'):.1f} | {statistics.median(walls):.1f} "
                  f"| median < {TARGET_MEDIAN_MS:.0f} ms, no errors | {'PASS' if passed else 'FAIL'} |",
                  flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
