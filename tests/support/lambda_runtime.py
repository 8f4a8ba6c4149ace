"""A stand-in for the Lambda Runtime API on loopback, and a function binary run against
it the way Lambda runs one (`AWS_LAMBDA_RUNTIME_API` set, events pulled from
`/invocation/next`). Used by the end-to-end tests (tests/e2e) and `make bench`.

    fn = Function(Path("target/debug/auth"), {"DATABASE_URL": ..., ...})
    ms, response = fn.call(event("GET", "/api/health"))
    fn.stop()
"""

import copy
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = json.loads((ROOT / "shared/fixtures/http-api-proxy.json").read_text())


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


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A function stopped between invocations drops its connection: expected.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


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
                request_id, payload, trace_id = api.events.get()
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 10000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", trace_id)
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

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, payload, timeout=30, trace_id="Root=1-00000000-000000000000000000000000"):
        request_id = str(uuid.uuid4())
        slot = {"done": threading.Event()}
        self.responses[request_id] = slot
        sent = time.perf_counter()
        self.events.put((request_id, payload, trace_id))
        if not slot["done"].wait(timeout):
            raise TimeoutError("no response")
        del self.responses[request_id]
        if slot["error"]:
            raise RuntimeError(slot["body"])
        return (slot["at"] - sent) * 1000, json.loads(slot["body"])


class Function:
    """`binary` started as Lambda starts a function; `runner` goes before it (the arm64
    bootstraps run under `qemu-aarch64-static -L /usr/aarch64-linux-gnu`). `stdout`: where
    its standard output goes (a file, to read its log lines; by default nowhere)."""

    def __init__(self, binary, env, runner=(), start_timeout=30, stdout=subprocess.DEVNULL,
                 cgroup=None):
        """`cgroup`: a cgroup v1 directory the process joins before it runs its first
        instruction (bench/power_tuning.py gives it Lambda's CPU share of a memory size)."""
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
        join = None
        if cgroup is not None:
            def join():
                with open(os.path.join(cgroup, "cgroup.procs"), "w") as procs:
                    procs.write(str(os.getpid()))
        self.proc = subprocess.Popen([*runner, str(binary)], env=full_env, stdout=stdout,
                                     preexec_fn=join)
        if not self.api.first_poll.wait(start_timeout):
            self.stop()
            raise RuntimeError(f"{binary.name} did not start")
        self.init_ms = (self.api.first_poll_at - self.started) * 1000

    def call(self, payload, **invoke):
        ms, response = self.api.invoke(payload, **invoke)
        return ms, response

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.api.server.shutdown()



def free_port() -> int:
    """A port nothing listens on now, on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
