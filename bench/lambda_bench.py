#!/usr/bin/env python3
"""What each function costs per cold start and per warm invocation, measured the way
Lambda runs it, next to the floor: `hello` (bench/hello), the cheapest `lambda_http`
function, on the same runtime flavour and release profile.

This script plays the Lambda Runtime API (the HTTP interface a function's runtime
polls for events) on loopback, starts each release binary as Lambda would, and
measures per route:

- init: exec to the runtime's first `GET /invocation/next` (config, secrets, pool,
  keys, migration check: all that is built once per cold start), median of the cold
  starts; first: the first invocation after it (opens the first connection);
- warm p50/p95: round trip of an invocation through the stand-in (the floor shows
  what the harness itself adds);
- CPU per warm invocation: the process's on-CPU time over the warm calls / count
  (per-thread `schedstat`, the nanosecond version of utime + stime), and beside it the
  floor's, measured in the same minutes: a floor instance runs alongside, and the warm
  calls alternate between the two in batches of 100, so that this machine's drift
  (it moves these figures by ±0.05 ms over minutes) weighs on both alike;
- context switches per warm invocation (voluntary + involuntary, every thread);
- peak RSS (VmHWM) after the warm calls;
- statements per request, counted by the server (`pg_stat_statements`).

A second reference, `hello-db` (bench/hello/src/bin/hello-db.rs), is the floor plus
one `SELECT 1` round trip per event: every task route makes one round trip, so what a
task route costs above `hello-db` is its own work.

Then the write routes again with TASK_EVENTS=outbox (docs/EVENTS.md), next to their
figures without. Then the targets, each a PASS or FAIL line; exits 1 when one fails.
Usage:
    bench/lambda_bench.py --bin-dir target/release --database-url URL [-n 1000] [--cold 10]
(`make bench` builds the binaries, starts a throwaway PostgreSQL with
pg_stat_statements loaded and runs this.)
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests/support"))
from lambda_runtime import Function, event  # noqa: E402  (the Runtime API stand-in)

SECRET = "bench-secret-0123456789-0123456789-abcdef"
PASSWORD = "s3cret-pass"

# The targets (issue 12), against the floor.
INIT_OVER_FLOOR_MS = 15
WARM_P50_OVER_FLOOR_MS = 1
CPU_OVER_FLOOR_MS = 0.1
RSS_MAX_MIB = 15
ZIP_MAX_MB = 3


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Process:
    """Counters of a running process, summed over its threads."""

    def __init__(self, pid):
        self.pid = pid

    def _tasks(self):
        return glob.glob(f"/proc/{self.pid}/task/*")

    def cpu_ns(self):
        total = 0
        for task in self._tasks():
            try:
                total += int(Path(task, "schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass  # a thread that ended between the listing and the read
        return total

    def switches(self):
        total = 0
        for task in self._tasks():
            try:
                for line in Path(task, "status").read_text().splitlines():
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
            except (FileNotFoundError, ProcessLookupError):
                pass
        return total

    def peak_rss_mib(self):
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM")


class Statements:
    """Statements the server ran for the bench's database, by pg_stat_statements. A
    write's guard (BEGIN, the deadline handed to the server, COMMIT: pipelined with the
    statement in the same round trip, shared/src/db/mod.rs) is not a statement of the
    request's own: it is left out, and counted apart (`guards`)."""

    def __init__(self, database_url):
        self.url = database_url
        self.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def psql(self, sql):
        return subprocess.run(["psql", self.url, "-qtAX", "-c", sql], check=True,
                              capture_output=True, text=True).stdout.strip()

    def reset(self):
        self.psql("SELECT pg_stat_statements_reset()")

    # pg_stat_statements shows the guard's SELECT with its constants as $n: it is
    # known by its subquery's name.
    GUARD = ("(query IN ('BEGIN', 'COMMIT') "
             "OR (query ILIKE '%set_config(%' AND query ILIKE '%time_left%'))")

    def calls(self, condition):
        return int(self.psql(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            f"AND query NOT ILIKE '%pg_stat_statements%' AND {condition}"))

    def count(self):
        return self.calls(f"NOT {self.GUARD}")

    def guards(self):
        return self.calls(self.GUARD)


class Route:
    def __init__(self, function, label, make, statements_target=None, answered=None,
                 statuses=range(200, 400)):
        self.function, self.label, self.make = function, label, make
        self.statements_target = statements_target
        self.answered = answered or (lambda response: None)
        self.statuses = statuses


BATCH = 100  # warm calls in a row on one instance before the paired floor's turn
FLOOR_EVENT = event("GET", "/")


def measure(bins, env, route, n, cold, statements):
    """Cold starts, then `n` warm invocations on one instance, alternating in batches
    with as many on a floor instance (bench/hello) for the paired CPU figure."""
    binary = bins / route.function
    calls = iter(range(cold + 1 + n))  # each call of the route gets its own number
    inits, firsts = [], []
    for _ in range(cold):
        f = Function(binary, env)
        try:
            first, response = f.call(route.make(next(calls)))
            assert response["statusCode"] in route.statuses, response
            route.answered(response)
            inits.append(f.init_ms)
            firsts.append(first)
        finally:
            f.stop()

    f = Function(binary, env)
    floor = Function(bins / "hello", {})
    try:
        route.answered(f.call(route.make(next(calls)))[1])  # the first opens the connection
        floor.call(FLOOR_EVENT)
        proc, floor_proc = Process(f.proc.pid), Process(floor.proc.pid)
        statements and statements.reset()
        warm = []
        cpu = switches = floor_cpu = 0
        for start in range(0, n, BATCH):
            batch = min(BATCH, n - start)
            cpu0, switches0 = proc.cpu_ns(), proc.switches()
            for _ in range(batch):
                ms, response = f.call(route.make(next(calls)))
                assert response["statusCode"] in route.statuses, response
                route.answered(response)
                warm.append(ms)
            cpu += proc.cpu_ns() - cpu0
            switches += proc.switches() - switches0
            floor0 = floor_proc.cpu_ns()
            for _ in range(batch):
                floor.call(FLOOR_EVENT)
            floor_cpu += floor_proc.cpu_ns() - floor0
        ran = statements.count() / n if statements else None
        guards = statements.guards() / n if statements else None
        rss = proc.peak_rss_mib()
    finally:
        f.stop()
        floor.stop()
    return {
        "function": route.function, "route": route.label, "n": n, "cold": cold,
        "init": statistics.median(inits), "first": statistics.median(firsts),
        "p50": percentile(warm, 50), "p95": percentile(warm, 95),
        "cpu": cpu / n / 1e6, "floor_cpu": floor_cpu / n / 1e6, "switches": switches / n,
        "rss": rss, "statements": ran, "statements_target": route.statements_target,
        "guards": guards,
    }


def new_user(bins, env, name):
    """A new user `name` (password PASSWORD), through the auth function: its
    `Authorization` header and its id."""
    auth = Function(bins / "auth", env)
    try:
        _, r = auth.call(event("POST", "/api/auth/signup", {
            "username": name, "email": f"{name}@example.com",
            "password": PASSWORD, "confirm_password": PASSWORD}))
    finally:
        auth.stop()
    session = json.loads(r["body"])
    return {"authorization": f"Bearer {session['access_token']}"}, session["user"]["id"]


def user_with_tasks(bins, env, name, n=100):
    """A new user `name` with `n` tasks created through the tasks function: its
    `Authorization` header, its listing's path and the path of its last task."""
    bearer, user = new_user(bins, env, name)
    tasks = f"/api/{user}/tasks"
    creator = Function(bins / "tasks", env)
    try:
        for i in range(n):
            _, r = creator.call(event("POST", tasks, {"title": f"task {i}"}, bearer))
    finally:
        creator.stop()
    return bearer, tasks, f"{tasks}/{json.loads(r['body'])['id']}"


def sizes(build_dir):
    """The bootstraps `sam build` made and what they zip to (deflate, as sam deploy)."""
    rows = []
    for bootstrap in sorted(Path(build_dir).glob("*Function/bootstrap")):
        zipped = Path("/tmp") / f"{bootstrap.parent.name}.zip"
        with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(bootstrap, "bootstrap")
        rows.append((bootstrap.parent.name, bootstrap.stat().st_size / 1e6, zipped.stat().st_size / 1e6))
        zipped.unlink()
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", default=str(ROOT / "target/release"))
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--sam-build-dir", default=str(ROOT / ".aws-sam/build"))
    parser.add_argument("-n", type=int, default=1000, help="warm invocations per route")
    parser.add_argument("--cold", type=int, default=10, help="cold starts per route")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for every function (repeatable)")
    parser.add_argument("--label", default="", help="a note printed above the table")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    bins = Path(args.bin_dir)
    env = {"DATABASE_URL": args.database_url, "BETTER_AUTH_SECRET": SECRET, "BCRYPT_COST": "10",
           **dict(setting.split("=", 1) for setting in args.env)}
    statements = Statements(args.database_url)
    n, cold = args.n, args.cold

    # A user and 100 tasks to read.
    name = f"bench{os.getpid()}"
    bearer, tasks, one = user_with_tasks(bins, env, name)
    created = []  # by the create route, for the delete route

    def signup(i):
        who = f"{name}s{i}"
        return event("POST", "/api/auth/signup", {"username": who, "email": f"{who}@example.com",
                                                  "password": PASSWORD, "confirm_password": PASSWORD})

    floor = Route("hello", "floor: lambda_http hello world", lambda i: event("GET", "/"))
    routes = [
        floor,
        # What one database round trip adds to the floor, on this machine: every task
        # route makes one.
        Route("hello-db", "floor + one statement (SELECT 1)", lambda i: event("GET", "/")),
        Route("docs", "GET /api/health", lambda i: event("GET", "/api/health")),
        Route("docs", "GET /openapi.json", lambda i: event("GET", "/openapi.json")),
        Route("auth", "POST /api/auth/signup (bcrypt 10)", signup, statements_target=1),
        # A success: the lookup that counts the attempt, then the one that takes it back.
        Route("auth", "POST /api/auth/login (bcrypt 10)",
              lambda i: event("POST", "/api/auth/login", {"username": name, "password": PASSWORD}),
              statements_target=2),
        # A failure is one statement; past the limit (10 from the stand-in's one
        # address) a 429, still one.
        Route("auth", "POST /api/auth/login, wrong password (bcrypt 10)",
              lambda i: event("POST", "/api/auth/login", {"username": name, "password": "wrong-pass"}),
              statements_target=1, statuses=(401, 429)),
        Route("tasks", "GET /api/{user}/tasks (20 of 100)",
              lambda i: event("GET", tasks, None, bearer, "page=2&page_size=20&sort_by=title"),
              statements_target=1),
        Route("task", "GET /api/{user}/tasks/{id}", lambda i: event("GET", one, None, bearer),
              statements_target=1),
        Route("task", "PUT /api/{user}/tasks/{id}",
              lambda i: event("PUT", one, {"title": f"replaced {i}", "completed": False}, bearer),
              statements_target=1),
        Route("complete", "PATCH /api/{user}/tasks/{id}/complete",
              lambda i: event("PATCH", f"{one}/complete", None, bearer), statements_target=1),
        Route("tasks", "POST /api/{user}/tasks",
              lambda i: event("POST", tasks, {"title": "bench task"}, bearer), statements_target=1,
              answered=lambda r: created.append(json.loads(r["body"])["id"])),
        # Each call deletes one of the tasks the route above created.
        Route("task", "DELETE /api/{user}/tasks/{id}",
              lambda i: event("DELETE", f"{tasks}/{created.pop()}", None, bearer), statements_target=1),
        # The floor again: it is the lower of the two (the machine drifts over minutes).
        floor,
    ]
    rows = []
    for route in routes:
        row = measure(bins, env, route, n, cold, None if route.function == "hello" else statements)
        rows.append(row)
        print(f"  measured {row['function']:8} {row['route']}", file=sys.stderr)
    # The writes again with TASK_EVENTS=outbox (docs/EVENTS.md): what recording each
    # change's event costs.
    writes = [r for r in routes if r.label.split()[0] in ("POST", "PUT", "PATCH", "DELETE")
              and r.function != "auth"]
    outbox_env = {**env, "TASK_EVENTS": "outbox"}
    outbox = []
    for route in writes:
        row = measure(bins, outbox_env, route, n, cold, statements)
        outbox.append(row)
        print(f"  measured {row['function']:8} {row['route']} (outbox)", file=sys.stderr)
    floor = {key: min(rows[0][key], rows[-1][key]) for key in ("init", "p50")}

    print()
    if args.label:
        print(args.label)
        print()
    print(f"Warm figures over {n} invocations on one instance; init and first: median of {cold} cold starts.")
    print()
    print("| function | route | init ms | first ms | warm p50 ms | warm p95 ms | CPU ms / inv | floor CPU, paired | switches / inv | peak RSS MiB | statements / req |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        ran = "" if r["statements"] is None else f"{r['statements']:.2f}"
        if r.get("guards"):
            ran += " + guard"
        print(f"| {r['function']} | {r['route']} | {r['init']:.1f} | {r['first']:.2f} | {r['p50']:.3f} | "
              f"{r['p95']:.3f} | {r['cpu']:.3f} | {r['floor_cpu']:.3f} | {r['switches']:.1f} | "
              f"{r['rss']:.1f} | {ran} |")

    print()
    print("With TASK_EVENTS=outbox (each write also records its event, in the same statement):")
    print()
    print("| route | CPU ms / inv off (over its paired floor) | CPU ms / inv outbox (over its paired floor) | warm p50 ms off | warm p50 ms outbox | statements / req outbox |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    by_route = {r["route"]: r for r in rows}
    for r in outbox:
        off = by_route[r["route"]]
        print(f"| {r['route']} | {off['cpu']:.3f} (+{off['cpu'] - off['floor_cpu']:.3f}) | "
              f"{r['cpu']:.3f} (+{r['cpu'] - r['floor_cpu']:.3f}) | {off['p50']:.3f} | {r['p50']:.3f} | "
              f"{r['statements']:.2f} |")

    built = sizes(args.sam_build_dir)
    if built:
        print()
        print("| function (sam build, arm64) | bootstrap MB | zip MB |")
        print("| --- | ---: | ---: |")
        for function, raw, zipped in built:
            print(f"| {function} | {raw:.2f} | {zipped:.2f} |")

    checks = []

    def check(ok, text):
        checks.append(ok)
        print(f"{'PASS' if ok else 'FAIL'}  {text}")

    print()
    for r in rows[1:-1]:
        what = f"{r['function']:8} {r['route']}"
        check(r["init"] <= floor["init"] + INIT_OVER_FLOOR_MS,
              f"{what}: init {r['init']:.1f} ms <= floor {floor['init']:.1f} + {INIT_OVER_FLOOR_MS} ms")
        if "bcrypt" not in r["route"]:
            check(r["p50"] <= floor["p50"] + WARM_P50_OVER_FLOOR_MS,
                  f"{what}: warm p50 {r['p50']:.3f} ms <= floor {floor['p50']:.3f} + {WARM_P50_OVER_FLOOR_MS} ms")
        if r["statements_target"] and r["function"] != "auth":
            check(r["cpu"] <= r["floor_cpu"] + CPU_OVER_FLOOR_MS,
                  f"{what}: CPU {r['cpu']:.3f} ms/inv <= paired floor {r['floor_cpu']:.3f} + {CPU_OVER_FLOOR_MS} ms")
        check(r["rss"] <= RSS_MAX_MIB, f"{what}: peak RSS {r['rss']:.1f} MiB <= {RSS_MAX_MIB} MiB")
        if r["statements_target"]:
            check(r["statements"] == r["statements_target"],
                  f"{what}: {r['statements']:.2f} statements per request == {r['statements_target']}")
    for r in outbox:
        check(r["statements"] == 1,
              f"{r['function']:8} {r['route']} (outbox): {r['statements']:.2f} statements per request == 1")
    for function, _, zipped in built:
        check(zipped <= ZIP_MAX_MB, f"{function}: zip {zipped:.2f} MB <= {ZIP_MAX_MB} MB")
    if not built:
        print("(no .aws-sam/build: run `make sam-build` for the artifact sizes)")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "outbox": outbox, "sizes": built}, indent=1))
    print(f"\n{sum(checks)} of {len(checks)} targets met")
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
