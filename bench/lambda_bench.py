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
import copy
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = json.loads((ROOT / "shared/fixtures/http-api-proxy.json").read_text())
SECRET = "bench-secret-0123456789-0123456789-abcdef"


def event(method, path, body=None, headers=None, query=""):
    e = copy.deepcopy(FIXTURE)
    e["rawPath"] = path
    e["rawQueryString"] = query
    e["requestContext"]["http"]["method"] = method
    e["requestContext"]["http"]["path"] = path
    e["requestContext"]["requestId"] = str(uuid.uuid4())
    e["headers"].update(headers or {})
    if body is not None:
        e["body"] = json.dumps(body)
        e["headers"]["content-type"] = "application/json"
    return e


class RuntimeApi:
    """Just enough of the Lambda Runtime API for one function instance."""

    def __init__(self):
        self.events = queue.Queue()
        self.responses = {}
        self.first_poll = threading.Event()
        self.first_poll_at = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                # Headers and body go out as separate writes: without this, Nagle's
                # algorithm and delayed ACKs add ~40 ms to every warm invocation.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self):
                if not api.first_poll.is_set():
                    api.first_poll_at = time.perf_counter()
                    api.first_poll.set()
                request_id, payload = api.events.get()
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 10000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                data = self.rfile.read(length)
                parts = self.path.split("/")
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if "invocation" in parts:
                    request_id = parts[parts.index("invocation") + 1]
                    slot = api.responses.get(request_id)
                    if slot:
                        slot["body"] = data
                        slot["error"] = parts[-1] == "error"
                        slot["at"] = time.perf_counter()
                        slot["done"].set()
                else:
                    sys.stderr.write(f"init error: {data!r}\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, payload, timeout=30):
        request_id = str(uuid.uuid4())
        slot = {"done": threading.Event()}
        self.responses[request_id] = slot
        sent = time.perf_counter()
        self.events.put((request_id, payload))
        if not slot["done"].wait(timeout):
            raise TimeoutError("no response")
        del self.responses[request_id]
        if slot["error"]:
            raise RuntimeError(slot["body"])
        return (slot["at"] - sent) * 1000, json.loads(slot["body"])


class Function:
    def __init__(self, binary, env):
        self.api = RuntimeApi()
        full_env = {
            "PATH": os.environ["PATH"],
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": binary.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "RUST_LOG": "warn",
            **env,
        }
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([str(binary)], env=full_env, stdout=subprocess.DEVNULL)
        if not self.api.first_poll.wait(30):
            raise RuntimeError(f"{binary.name} did not start")
        self.init_ms = (self.api.first_poll_at - self.started) * 1000

    def call(self, payload):
        ms, response = self.api.invoke(payload)
        return ms, response

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.api.server.shutdown()


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
