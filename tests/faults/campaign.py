#!/usr/bin/env python3
"""The fault campaign (scripts/faults.sh, `make faults`, a step of `make test`).

Against the API as `make dev` runs it, with tests/support/fault_proxy.py between the
functions and PgBouncer (`DEV_API_FAULTS=1 scripts/with-dev-api.sh`): for about a
minute, WORKERS threads drive a mixed workload (creates with and without
Idempotency-Key, conditional PUTs, DELETEs, explicit completes, reads, lists, logins)
while the proxy cycles through delay, reset, connect_delay (after a reset) and a
blackhole. Then the network heals and the campaign checks, reading the database itself
(DIRECT_DATABASE_URL, with psql), what the contract (API.md, "Conventions" and
"Conditional requests and safe retries") promises:

- no 500, ever; every 503 and 504 is a problem document with Retry-After; every answer
  comes within the function timeout (10 s, template.yaml);
- every acknowledged write is in the database as acknowledged; no write answered 503
  is (the change was not made); a write answered 504 may be either, and retrying it
  the safe way (same Idempotency-Key, same If-Match, explicit completed) ends as if it
  had been applied exactly once; a create without a key answered 504 exists 0 or 1
  times; the `version` column counts the writes applied; no change given up on commits
  later than its budget plus a second;
- reads agree with the acknowledged writes; once the network heals, every function
  answers normally within a few seconds.

Each worker owns a user and its tasks, so the order of the writes to a task is known.
A task whose write got no definite answer (503, 504, none) is written no more until
the end, when its one unsettled write is judged: every task is a run of acknowledged
writes, then at most one write whose outcome must be worked out.

Prints each violation, then one summary line; exits 1 on any violation.
Environment: API_URL, FAULT_PROXY_CONTROL, DIRECT_DATABASE_URL (from with-dev-api.sh);
FAULT_WORKERS (8), FAULT_CYCLES (2), FAULT_SEED (random), FAULT_RECOVERY_SECONDS (5),
FAULT_KEEP (set: keep the request log and the tables, as after a failure).
"""

import collections
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

import requests

API = os.environ["API_URL"].rstrip("/")
CONTROL = os.environ["FAULT_PROXY_CONTROL"]
DIRECT = os.environ["DIRECT_DATABASE_URL"]
WORKERS = int(os.environ.get("FAULT_WORKERS", "8"))
CYCLES = int(os.environ.get("FAULT_CYCLES", "2"))
SEED = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(1 << 30))
RECOVERY = float(os.environ.get("FAULT_RECOVERY_SECONDS", "5"))
CLIENT_TIMEOUT = 30.0
FUNCTION_TIMEOUT = 10.0  # template.yaml: Timeout of the API functions
# docs/API.md: one deadline per request, 4 s after it reaches the function; a change
# given up on never takes effect more than a second after it.
DB_BUDGET = 4.0
CLOCK_SLACK = 0.5
PASSWORD = "s3cret-pass"
WRONG_LOGINS_PER_ACCOUNT = 4  # throttling starts at 10 (and 100 per address)
PSQL = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
JSON = {"content-type": "application/json"}
FUNCTIONS = ("auth", "tasks", "task", "complete", "docs")

T0 = time.monotonic()


def now() -> float:
    return time.monotonic() - T0


# ---- the fault proxy and the database ---------------------------------------------


def proxy(command: str) -> dict:
    host, port = CONTROL.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(command.encode() + b"\n")
        reply = s.makefile("r").readline()
    answer = json.loads(reply)
    if not answer.get("ok"):
        raise RuntimeError(f"fault proxy refused {command!r}: {answer}")
    return answer


def sql_json(query: str):
    out = subprocess.run([PSQL, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", DIRECT,
                          "-c", query], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()}")
    return json.loads(out.stdout.strip() or "null")


def sql_list(values) -> str:
    for v in values:
        assert re.fullmatch(r"[A-Za-z0-9._-]+", v), v
    return ", ".join(f"'{v}'" for v in values) or "NULL"


def snapshot(user_ids) -> dict:
    """Every task of these users, by id, with its timestamps as Unix times."""
    rows = sql_json(
        "SELECT coalesce(json_agg(t), '[]') FROM (SELECT id, user_id, title, description, "
        "completed, version, extract(epoch FROM created_at)::float8 AS created, "
        "extract(epoch FROM updated_at)::float8 AS updated FROM tasks "
        f"WHERE user_id IN ({sql_list(user_ids)})) t")
    keys = sql_json(
        "SELECT coalesce(json_agg(k), '[]') FROM (SELECT user_id, key, task_id "
        f"FROM idempotency_keys WHERE user_id IN ({sql_list(user_ids)})) k")
    by_title = collections.defaultdict(list)
    for row in rows:
        by_title[(row["user_id"], row["title"])].append(row)
    return {"by_id": {r["id"]: r for r in rows}, "by_title": by_title,
            "keys": {(k["user_id"], k["key"]): k["task_id"] for k in keys}}


def quiet_database(limit: float = 10.0) -> None:
    """Waits until no client statement is running or holding a transaction open."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        busy = sql_json("SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                        "'client backend' AND state <> 'idle' AND pid <> pg_backend_pid()")
        if busy == 0:
            return
        time.sleep(0.2)


# ---- requests and what every answer must look like ---------------------------------

TIMELINE: list[tuple[float, str]] = [(0.0, "setup")]


def phase_at(t: float) -> str:
    label = TIMELINE[0][1]
    for start, name in TIMELINE:
        if start <= t:
            label = name
    return label


@dataclass
class Call:
    who: str
    op: str
    method: str
    path: str
    sent: float  # campaign clock
    sent_wall: float
    status: int | None = None
    elapsed: float = 0.0
    received_wall: float = 0.0
    headers: dict = field(default_factory=dict)
    body: object = None
    error: str = ""
    sent_headers: dict = field(default_factory=dict)
    sent_body: object = None

    @property
    def request_id(self) -> str:
        return self.headers.get("x-request-id", "-")

    def etag_version(self) -> int | None:
        m = re.fullmatch(r'"(\d+)"', self.headers.get("etag", ""))
        return int(m.group(1)) if m else None

    def describe(self) -> str:
        answer = self.status if self.status is not None else f"no answer ({self.error})"
        answered = self.sent + self.elapsed
        return (f"{self.who} {self.method} {self.path} -> {answer} after {self.elapsed:.2f} s "
                f"(sent at {self.sent:.2f} s during '{phase_at(self.sent)}', answered during "
                f"'{phase_at(answered)}'; x-request-id {self.request_id})")

    def record(self) -> dict:
        return {k: getattr(self, k) for k in (
            "who", "op", "method", "path", "sent_headers", "sent_body", "sent", "sent_wall",
            "status", "elapsed", "received_wall", "headers", "body", "error")}


class Report:
    def __init__(self):
        self.lock = threading.Lock()
        self.violations: list[tuple[str, str]] = []
        self.calls: list[Call] = []

    def violation(self, kind: str, text: str) -> None:
        with self.lock:
            self.violations.append((kind, text))

    def add(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)


REPORT = Report()


def request(http: requests.Session, who: str, op: str, method: str, path: str,
            expected: set[int], timeout: float = CLIENT_TIMEOUT, **kwargs) -> Call:
    call = Call(who, op, method, path, now(), time.time())
    call.sent_headers = {k.lower(): v for k, v in (kwargs.get("headers") or {}).items()
                         if k.lower() in ("if-match", "if-none-match", "idempotency-key")}
    call.sent_body = kwargs.get("data") or kwargs.get("json")
    start = time.monotonic()
    try:
        r = http.request(method, API + path, timeout=timeout, **kwargs)
    except requests.RequestException as error:
        call.error = f"{type(error).__name__}: {error}"
    else:
        call.status = r.status_code
        call.headers = {k.lower(): v for k, v in r.headers.items()}
        try:
            call.body = r.json() if r.content else None
        except ValueError:
            call.body = r.text[:500]
    call.elapsed = time.monotonic() - start
    call.received_wall = time.time()
    check_answer(call, expected)
    REPORT.add(call)
    return call


def check_answer(call: Call, expected: set[int]) -> None:
    if call.status is None:
        REPORT.violation("no answer", call.describe())
        return
    if call.status == 500:
        REPORT.violation("500", f"{call.describe()}: {call.body}")
    elif call.status not in expected:
        REPORT.violation("unexpected status", f"{call.describe()}: {str(call.body)[:300]}")
    if call.status in (503, 504):
        problems = []
        if not call.headers.get("content-type", "").startswith("application/problem+json"):
            problems.append(f"content-type {call.headers.get('content-type')!r}")
        body = call.body if isinstance(call.body, dict) else {}
        if body.get("status") != call.status or not isinstance(body.get("detail"), str):
            problems.append(f"body {str(call.body)[:200]!r} is not its problem document")
        retry_after = call.headers.get("retry-after", "")
        if not re.fullmatch(r"\d+", retry_after.strip()):
            problems.append(f"Retry-After {retry_after!r}")
        if problems:
            REPORT.violation(f"bad {call.status}", f"{call.describe()}: " + "; ".join(problems))
    if call.elapsed > FUNCTION_TIMEOUT:
        REPORT.violation("past the function timeout", call.describe())


def unsettled(call: Call) -> bool:
    """The answer does not settle the write: it may or may not have happened."""
    return call.status is None or call.status == 504


# ---- the workload ------------------------------------------------------------------


@dataclass
class Create:
    worker: int
    nonce: str
    key: str | None
    raw: str
    call: Call
    task_id: str | None = None


@dataclass
class Write:
    op: str  # put, delete, complete
    call: Call
    if_match: int | None
    body: dict
    raw: str


@dataclass
class TaskLog:
    id: str
    worker: int
    nonce: str
    # The task as the last acknowledged write left it (None: acknowledged delete).
    state: dict | None
    pending: Write | None = None  # the one write whose outcome is unknown, last


def task_state(body: dict, version: int) -> dict:
    return {"title": body["title"], "description": body.get("description"),
            "completed": body["completed"], "version": version}


def same(row: dict | None, state: dict | None) -> bool:
    if row is None or state is None:
        return row is None and state is None
    return all(row[k] == state[k] for k in ("title", "description", "completed", "version"))


def show(row: dict | None) -> str:
    if row is None:
        return "absent"
    return (f"title={row['title']!r} completed={row['completed']} "
            f"description={row['description']!r} version={row['version']}")


class Worker(threading.Thread):
    def __init__(self, number: int, stop: threading.Event):
        super().__init__(name=f"w{number}", daemon=True)
        self.number = number
        self.who = f"w{number}"
        self.stop = stop
        self.rng = random.Random(SEED * 1000 + number)
        self.http = requests.Session()
        self.tasks: dict[str, TaskLog] = {}
        self.creates: list[Create] = []
        self.wrong_left = WRONG_LOGINS_PER_ACCOUNT
        self.seq = 0
        self.crashed = ""

    def signup(self) -> None:
        name = f"fault{self.number}{uuid.uuid4().hex[:10]}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD,
                "confirm_password": PASSWORD}
        r = self.http.post(API + "/api/auth/signup", json=body, timeout=CLIENT_TIMEOUT)
        r.raise_for_status()
        session = r.json()
        self.username = name
        self.uid = session["user"]["id"]
        self.http.headers["authorization"] = f"Bearer {session['access_token']}"
        self.base = f"/api/{self.uid}/tasks"

    def nonce(self, kind: str) -> str:
        self.seq += 1
        return f"{self.who}-{kind}{self.seq}-{uuid.uuid4().hex[:10]}"

    def active(self) -> list[TaskLog]:
        return [t for t in self.tasks.values() if t.state is not None and t.pending is None]

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.step()
                time.sleep(self.rng.uniform(0, 0.03))
        except Exception as error:  # a bug here must fail the campaign, not hide
            self.crashed = f"{type(error).__name__}: {error}"
            REPORT.violation("campaign error", f"{self.who} crashed: {self.crashed}")

    def step(self) -> None:
        active = self.active()
        if not active:
            return self.create()
        ops = [("create", 14 if len(active) < 8 else 0), ("put", 22), ("complete", 18),
               ("delete", 8), ("get", 16), ("list", 9), ("login", 4), ("health", 2)]
        op = self.rng.choices([o for o, _ in ops], [w for _, w in ops])[0]
        if op == "create":
            return self.create()
        if op == "list":
            return self.list()
        if op == "login":
            return self.login()
        if op == "health":
            request(self.http, self.who, "health", "GET", "/api/health", {200, 503, 504})
            return
        getattr(self, op)(self.rng.choice(active))

    # -- writes --

    def create(self) -> None:
        nonce = self.nonce("c")
        body = {"title": nonce, "completed": self.rng.random() < 0.3}
        if self.rng.random() < 0.5:
            body["description"] = f"d-{nonce}"
        raw = json.dumps(body)
        headers = dict(JSON)
        key = None
        if self.rng.random() < 0.5:
            key = f"k-{nonce}"
            headers["idempotency-key"] = key
        call = request(self.http, self.who, "create", "POST", self.base, {201, 503, 504},
                       data=raw, headers=headers)
        created = Create(self.number, nonce, key, raw, call)
        self.creates.append(created)
        if call.status != 201:
            return
        task = call.body
        created.task_id = task["id"]
        expected = {"title": nonce, "description": body.get("description"),
                    "completed": body["completed"], "version": 1}
        got = task_state(task, call.etag_version())
        if got != expected or call.headers.get("location") != f"{self.base}/{task['id']}":
            REPORT.violation("acknowledged answer wrong", f"{call.describe()}: task {show(got)}, "
                             f"Location {call.headers.get('location')}; sent {show(expected)}")
        self.tasks[task["id"]] = TaskLog(task["id"], self.number, nonce, got)

    def put(self, task: TaskLog) -> None:
        v = task.state["version"]
        body = {"title": self.nonce("p"), "completed": self.rng.random() < 0.5}
        if self.rng.random() < 0.5:
            body["description"] = f"d-{body['title']}"
        self.send_write(task, "put", "PUT", f"{self.base}/{task.id}", v, body,
                        {**JSON, "if-match": f'"{v}"'})

    def complete(self, task: TaskLog) -> None:
        # Mostly a change of state, sometimes a repeat: the version moves either way.
        flip = self.rng.random() < 0.75
        body = {"completed": (not task.state["completed"]) if flip else task.state["completed"]}
        self.send_write(task, "complete", "PATCH", f"{self.base}/{task.id}/complete", None,
                        body, JSON)

    def send_write(self, task: TaskLog, op: str, method: str, path: str,
                   version: int | None, body: dict, headers: dict) -> None:
        """Sends `body` as JSON: a 200 is checked as the one change it makes to the task;
        anything else leaves the write pending, for the judge to settle."""
        raw = json.dumps(body)
        call = request(self.http, self.who, op, method, path, {200, 503, 504}, data=raw,
                       headers=headers)
        write = Write(op, call, version, body, raw)
        if call.status == 200:
            self.acknowledged(task, write, applied(write, task.state))
        else:
            task.pending = write

    def delete(self, task: TaskLog) -> None:
        v = task.state["version"]
        call = request(self.http, self.who, "delete", "DELETE", f"{self.base}/{task.id}",
                       {200, 503, 504}, headers={"if-match": f'"{v}"'})
        write = Write("delete", call, v, {}, "")
        if call.status == 200:
            got = task_state(call.body, call.etag_version())
            if got != task.state:
                REPORT.violation("acknowledged answer wrong", f"{call.describe()}: answered "
                                 f"{show(got)}, the task was {show(task.state)}")
            task.state = None
        else:
            task.pending = write

    def acknowledged(self, task: TaskLog, write: Write, expected: dict) -> None:
        got = task_state(write.call.body, write.call.etag_version())
        if got != expected:
            REPORT.violation("acknowledged answer wrong",
                             f"{write.call.describe()}: answered {show(got)}, "
                             f"expected {show(expected)} (one write on {show(task.state)})")
        task.state = got

    # -- reads --

    def get(self, task: TaskLog) -> None:
        v = task.state["version"]
        if self.rng.random() < 0.25:
            call = request(self.http, self.who, "get", "GET", f"{self.base}/{task.id}",
                           {304, 503, 504}, headers={"if-none-match": f'"{v}"'})
            if call.status == 304 and call.etag_version() != v:
                REPORT.violation("read disagrees", f"{call.describe()}: ETag "
                                 f"{call.headers.get('etag')}, acknowledged version {v}")
            return
        call = request(self.http, self.who, "get", "GET", f"{self.base}/{task.id}",
                       {200, 503, 504})
        if call.status == 200:
            got = task_state(call.body, call.etag_version())
            if got != task.state:
                REPORT.violation("read disagrees", f"{call.describe()}: read {show(got)}, "
                                 f"acknowledged {show(task.state)}")

    def list(self) -> None:
        call = request(self.http, self.who, "list", "GET", f"{self.base}?page_size=100",
                       {200, 503, 504})
        if call.status != 200 or call.body["total"] > 100:
            return
        listed = {t["id"]: t for t in call.body["items"]}
        for task in self.active():
            item = listed.get(task.id)
            if item is None:
                REPORT.violation("read disagrees", f"{call.describe()}: task {task.id} "
                                 f"({show(task.state)}) is not listed")
            elif task_state(item, task.state["version"]) != task.state:
                REPORT.violation("read disagrees", f"{call.describe()}: task {task.id} listed "
                                 f"as {show(task_state(item, task.state['version']))}, "
                                 f"acknowledged {show(task.state)}")

    def login(self) -> None:
        if self.wrong_left > 0 and self.rng.random() < 0.35:
            self.wrong_left -= 1  # counted whatever the answer: a 503 may have counted it
            body = {"username": self.username, "password": "wrong-" + uuid.uuid4().hex[:8]}
            request(self.http, self.who, "login (wrong)", "POST", "/api/auth/login",
                    {401, 503, 504}, json=body)
            return
        call = request(self.http, self.who, "login", "POST", "/api/auth/login",
                       {200, 503, 504}, json={"username": self.username, "password": PASSWORD})
        if call.status == 200 and call.body["user"]["id"] != self.uid:
            REPORT.violation("acknowledged answer wrong", f"{call.describe()}: another user")


def applied(write: Write, before: dict | None) -> dict | None:
    """The task after `write` applied once to `before`."""
    if write.op == "delete":
        return None
    if write.op == "put":
        return {"title": write.body["title"], "description": write.body.get("description"),
                "completed": write.body["completed"], "version": before["version"] + 1}
    return {**before, "completed": write.body["completed"], "version": before["version"] + 1}


# ---- set-up, faults, recovery ------------------------------------------------------


def warm_up(probe: Worker, probe_task: str) -> None:
    """Starts WORKERS instances of every function before the faults: a request that had
    to wait for a busy instance, or for a cold start, would be slow for reasons that
    are not the function's. Requests that last (a delayed network) make `cargo lambda
    watch` start an instance per waiting request, up to WATCH_CONCURRENCY; they go on
    until its log shows them all (at most 20 s; 4 s without the log)."""
    want = min(WORKERS, int(os.environ.get("WATCH_CONCURRENCY", "4")))
    routes = [("GET", "/api/health", None), ("GET", f"{probe.base}?page_size=5", None),
              ("GET", f"{probe.base}/{probe_task}", None),
              ("PATCH", f"{probe.base}/{probe_task}/complete", {"completed": True}),
              ("POST", "/api/auth/login", {"username": probe.username, "password": PASSWORD})]
    done = threading.Event()

    def hammer(method, path, body):
        http = requests.Session()
        http.headers.update(probe.http.headers)
        while not done.is_set():
            try:
                http.request(method, API + path, json=body, timeout=CLIENT_TIMEOUT)
            except requests.RequestException:
                pass

    proxy("delay 200")
    TIMELINE.append((now(), "warm-up (delay 200)"))
    threads = [threading.Thread(target=hammer, args=r) for r in routes for _ in range(WORKERS)]
    for t in threads:
        t.start()
    until = time.monotonic() + 20
    time.sleep(1)
    while time.monotonic() < until:
        counts = instances()
        if not counts:
            time.sleep(3)
            break
        if all(counts.get(f, 0) >= want for f in FUNCTIONS):
            break
        time.sleep(0.5)
    done.set()
    for t in threads:
        t.join()
    proxy("pass")
    TIMELINE.append((now(), "pass"))
    print(f"instances after the warm-up: {instances() or 'none found in the log'}")


def instances() -> dict:
    """Function instances `cargo lambda watch` started so far, by function."""
    log = os.environ.get("DEV_API_LOG")
    if not log or not os.path.exists(log):
        return {}
    text = re.sub(r"\x1b\[[0-9;]*m", "", open(log, errors="replace").read())
    return dict(collections.Counter(re.findall(r'spawning function instance function="(\w+)"',
                                               text)))


def request_lines_disagree(calls: list[Call]) -> list[str]:
    """What the functions' own request lines (Lambda's JSON format, AWS_LAMBDA_LOG_FORMAT=
    JSON from scripts/faults.sh) say against what the clients got: every answered request
    has exactly one line, with its status, and counts `DatabaseUnavailable` exactly when
    it was a 503 or 504 (the metric the rollback alarms watch)."""
    lines = collections.defaultdict(list)
    for text in open(os.environ["DEV_API_LOG"], errors="replace"):
        if text.startswith("{") and '"_aws"' in text:
            line = json.loads(text)
            lines[line["request_id"]].append(line)
    problems = []
    for call in calls:
        if call.status is None:
            continue
        found = lines.get(call.request_id, [])
        if len(found) != 1:
            problems.append(f"{call.describe()}: {len(found)} request lines")
            continue
        line = found[0]
        unavailable = line.get("DatabaseUnavailable", 0) == 1
        if line["status"] != call.status or unavailable != (call.status in (503, 504)):
            problems.append(f"{call.describe()}: its line says status {line['status']}, "
                            f"DatabaseUnavailable {line.get('DatabaseUnavailable', 0)}")
    return problems


def fault_schedule(rng: random.Random) -> list[tuple[str, float]]:
    """CYCLES cycles of pass, delay (a reset at its end: replies of statements the
    server ran are in flight), pass, reset then connect_delay (every connection must be
    made again, slowly, as after a Neon compute suspends), pass, blackhole; the last
    cycle ends in the blackhole, so the final heal follows a partition."""
    phases = []
    for cycle in range(CYCLES):
        phases += [("pass", 3), ("delay 300", rng.uniform(4, 6)), ("reset", 0), ("pass", 3),
                   ("reset", 0), ("connect_delay 3", rng.uniform(4, 6)), ("pass", 3),
                   ("blackhole", rng.uniform(6, 8))]
        if cycle < CYCLES - 1:
            phases.append(("pass", 4))
    return phases


def drive_faults(rng: random.Random) -> None:
    for command, seconds in fault_schedule(rng):
        # Recorded as it is sent: what is sent from now on may meet the new mode.
        TIMELINE.append((now(), "reset+pass" if command == "reset" else command))
        proxy(command)
        time.sleep(seconds)


def recovery(probe: Worker, probe_task: str, healed: float) -> dict:
    """Every function answers 2xx within RECOVERY seconds of the heal."""
    routes = {
        "health (docs)": ("GET", "/api/health", None),
        "list (tasks)": ("GET", f"{probe.base}?page_size=5", None),
        "create (tasks)": ("POST", probe.base, {"title": "probe"}),
        "get (task)": ("GET", f"{probe.base}/{probe_task}", None),
        "complete (complete)": ("PATCH", f"{probe.base}/{probe_task}/complete",
                                {"completed": False}),
        "login (auth)": ("POST", "/api/auth/login",
                         {"username": probe.username, "password": PASSWORD}),
    }
    result = {}

    def probe_route(name, method, path, body):
        http = requests.Session()
        http.headers.update(probe.http.headers)
        while True:
            call = request(http, "probe", name, method, path, {200, 201, 503, 504},
                           timeout=FUNCTION_TIMEOUT + 5, json=body)
            if call.status is not None and 200 <= call.status < 300:
                result[name] = time.monotonic() - healed
                return
            if time.monotonic() - healed > RECOVERY + 10:
                result[name] = None
                return
            time.sleep(0.2)

    threads = [threading.Thread(target=probe_route, args=(n, *r)) for n, r in routes.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, took in result.items():
        if took is None or took > RECOVERY:
            took_text = "never" if took is None else f"only after {took:.1f} s"
            REPORT.violation("slow recovery", f"{name}: a 2xx {took_text} after the heal "
                             f"(allowed: {RECOVERY:g} s)")
    return result


# ---- verification ------------------------------------------------------------------


def late_commit(began: float, call: Call) -> float | None:
    """How long after the allowed moment a change began to be committed, if it did:
    never later than the budget plus a second after the request (the function
    answers only once it has given up, so the answer plus a second bounds it too)."""
    allowed = max(call.received_wall + 1.0, call.sent_wall + DB_BUDGET + 1.0) + CLOCK_SLACK
    return began - allowed if began > allowed else None


class Verifier:
    def __init__(self, workers: list[Worker]):
        self.workers = workers
        self.http = {w.number: w.http for w in workers}
        self.outcomes = collections.Counter()  # "504 put applied" etc.

    def v(self, kind: str, text: str) -> None:
        REPORT.violation(kind, text)

    def run(self) -> None:
        users = [w.uid for w in self.workers]
        first = self.first = snapshot(users)
        retries = []
        for w in self.workers:
            for task in w.tasks.values():
                retries += self.judge_task(w, task, first)
            for created in w.creates:
                retries += self.judge_create(w, created, first)
        done = [(check, do()) for check, do in retries]
        final = self.final = snapshot(users)
        for check, outcome in done:
            check(outcome, final)
        self.phantoms(first, final)

    # -- tasks whose create was acknowledged --

    def judge_task(self, w: Worker, task: TaskLog, snap: dict) -> list:
        row = snap["by_id"].get(task.id)
        if task.pending is None:
            if not same(row, task.state):
                self.v("acknowledged write missing",
                       f"{w.who} task {task.id}: the database has {show(row)}, the last "
                       f"acknowledged write left {show(task.state)}")
            return []
        write, before = task.pending, task.state
        after = applied(write, before)
        call = write.call
        acked = before["version"] - 1
        unknown = 1 if (unsettled(call) and write.op != "delete") else 0
        if same(row, before):
            was_applied = False
        elif same(row, after):
            was_applied = True
        else:
            count = "" if row is None else (
                f"; writes applied {row['version'] - 1}, acknowledged {acked}, unknown {unknown}")
            self.v("inconsistent state", f"{call.describe()}: the task is {show(row)}, neither "
                   f"as before it ({show(before)}) nor as after it once ({show(after)}){count}")
            return []
        status = call.status
        label = f"{status if status is not None else 'no answer'} {write.op}"
        self.outcomes[f"{label} {'applied' if was_applied else 'not applied'}"] += 1
        if was_applied and status not in (504, None):
            late = (late_commit(row["updated"], call) if write.op != "delete" and row else None)
            when = f", its transaction began {late:.1f} s after the allowed moment" if late else ""
            self.v(f"{status}'d write applied",
                   f"{call.describe()}: the change is there: {show(row)}{when} "
                   f"(before it: {show(before)})")
        elif was_applied and write.op != "delete":
            late = late_commit(row["updated"], call)
            if late is not None:
                self.v("late commit", f"{call.describe()}: applied, its transaction began "
                       f"{late:.1f} s after the budget plus one second")
        if not unsettled(call):
            return []
        return [self.retry_write(w, task, write, before, after, was_applied, row)]

    def retry_write(self, w, task, write, before, after, was_applied, row):
        path = f"{w.base}/{task.id}" + ("/complete" if write.op == "complete" else "")
        method = {"put": "PUT", "delete": "DELETE", "complete": "PATCH"}[write.op]
        headers = dict(JSON) if write.raw else {}
        if write.if_match is not None:
            headers["if-match"] = f'"{write.if_match}"'
        expected = {"put": {200, 412}, "delete": {200, 404, 412}, "complete": {200}}[write.op]
        first = write.call.describe()

        def do():
            return settle(self.http[w.number], w.who, f"retry {write.op}", method, path,
                          expected, data=write.raw or None, headers=headers)

        def check(call: Call, snap: dict):
            final = snap["by_id"].get(task.id)
            if call.status not in expected:
                return  # reported by settle()
            if write.op == "put":
                want = 412 if was_applied else 200
                if call.status != want or not same(final, after):
                    self.v("retry inconsistent", f"{first}; the retry with the same If-Match "
                           f"got {call.status} (expected {want}: the first had "
                           f"{'' if was_applied else 'not '}applied); the task is now "
                           f"{show(final)}, once applied it is {show(after)}")
            elif write.op == "delete":
                want = 404 if was_applied else 200
                if call.status != want or final is not None:
                    self.v("retry inconsistent", f"{first}; the retry with the same If-Match "
                           f"got {call.status} (expected {want}); the task is {show(final)}")
            else:
                again = {**row, "completed": write.body["completed"],
                         "version": row["version"] + 1}
                if not same(final, again):
                    self.v("retry inconsistent", f"{first}; after the retry with the same "
                           f"body the task is {show(final)}, expected {show(again)}")
        return check, do

    # -- creates --

    def judge_create(self, w: Worker, created: Create, snap: dict) -> list:
        call = created.call
        rows = snap["by_title"].get((w.uid, created.nonce), [])
        if created.task_id is not None:
            others = [r for r in rows if r["id"] != created.task_id]
            if others:
                self.v("duplicate create", f"{call.describe()}: acknowledged as "
                       f"{created.task_id}, also created as {[r['id'] for r in others]}")
            return []
        if len(rows) > 1:
            self.v("duplicate create", f"{call.describe()}: {len(rows)} tasks titled "
                   f"{created.nonce!r}")
            return []
        was_applied = len(rows) == 1
        keyed = "keyed" if created.key else "unkeyed"
        status = call.status
        label = f"{status if status is not None else 'no answer'} {keyed} create"
        self.outcomes[f"{label} {'applied' if was_applied else 'not applied'}"] += 1
        key_row = snap["keys"].get((w.uid, created.key)) if created.key else None
        if created.key and (key_row is not None) != was_applied:
            self.v("inconsistent state", f"{call.describe()}: idempotency key "
                   f"{'kept' if key_row else 'absent'} but the task "
                   f"{'exists' if was_applied else 'does not'}")
        if was_applied:
            late = late_commit(rows[0]["created"], call)
            if status not in (504, None):
                when = f", its transaction began {late:.1f} s after the allowed moment" if late else ""
                self.v(f"{status}'d write applied", f"{call.describe()}: task {rows[0]['id']} "
                       f"titled {created.nonce!r} exists{when}")
            elif late is not None:
                self.v("late commit", f"{call.describe()}: created, its transaction began "
                       f"{late:.1f} s after the budget plus one second")
        if not (unsettled(call) and created.key):
            return []
        before = rows[0]["id"] if was_applied else None
        headers = {**JSON, "idempotency-key": created.key}

        def do():
            return settle(self.http[w.number], w.who, "retry create", "POST", w.base, {201},
                          data=created.raw, headers=headers)

        def check(retry: Call, final: dict):
            if retry.status != 201:
                return  # reported by settle()
            replayed = retry.headers.get("idempotent-replayed") == "true"
            now_rows = final["by_title"].get((w.uid, created.nonce), [])
            ids = [r["id"] for r in now_rows]
            problems = []
            if ids != [retry.body["id"]]:
                problems.append(f"tasks titled so: {ids}, the retry answered {retry.body['id']}")
            if was_applied and (not replayed or retry.body["id"] != before):
                problems.append(f"the first had created {before}: expected a replay of it")
            if not was_applied and replayed:
                problems.append("replayed, but the first had created nothing")
            if problems:
                self.v("retry inconsistent", f"{call.describe()}; the retry with the same key: "
                       + "; ".join(problems))
            created.task_id = retry.body["id"]
        return [(check, do)]

    def phantoms(self, first: dict, final: dict) -> None:
        known_titles = {(w.uid, c.nonce) for w in self.workers for c in w.creates}
        known_ids = {c.task_id for w in self.workers for c in w.creates if c.task_id}
        for snap in (first, final):
            for row in snap["by_id"].values():
                if row["id"] not in known_ids and (row["user_id"], row["title"]) not in known_titles:
                    self.v("phantom task", f"task {row['id']} ({show(row)}) of "
                           f"{row['user_id']}: no create of it was sent")
                    known_ids.add(row["id"])


def settle(http, who, op, method, path, expected, **kwargs) -> Call:
    """Sends a retry until it gets a definite answer (503, 504 and, for a key still in
    flight, 409 say: later), at most 6 times."""
    for _ in range(6):
        call = request(http, who, op, method, path, expected | {409, 503, 504}, **kwargs)
        if call.status not in (None, 409, 503, 504):
            return call  # definite; an unexpected one is reported by request()
        time.sleep(1)
    REPORT.violation("retry unsettled", f"{call.describe()}: no definite answer to the retry")
    return call


# ---- main --------------------------------------------------------------------------


def main() -> int:
    rng = random.Random(SEED)
    print(f"fault campaign: {WORKERS} workers, {CYCLES} fault cycles, seed {SEED} "
          f"(FAULT_SEED={SEED} repeats the schedule)")
    stop = threading.Event()
    workers = [Worker(i, stop) for i in range(WORKERS)]
    probe = Worker(99, stop)
    probe.who = "probe"
    for w in workers + [probe]:
        w.signup()
    r = probe.http.post(API + probe.base, json={"title": "probe"}, timeout=CLIENT_TIMEOUT)
    r.raise_for_status()
    probe_task = r.json()["id"]
    warm_up(probe, probe_task)
    warm = instances()
    time.sleep(0.5)

    started = now()
    TIMELINE.append((started, "pass"))
    for w in workers:
        w.start()
    drive_faults(rng)
    stop.set()
    proxy("pass")
    healed = time.monotonic()
    TIMELINE.append((now(), "healed"))
    workload_seconds = now() - started
    recovered = recovery(probe, probe_task, healed)
    for w in workers:
        w.join(timeout=CLIENT_TIMEOUT + 5)
        if w.is_alive():  # its tasks would change under the verifier
            REPORT.violation("campaign error", f"{w.who} still waiting for an answer")
            print(f"VIOLATION [campaign error] {w.who} still waiting for an answer")
            return 1
    # Whatever the partition held has been delivered; let it finish before reading.
    time.sleep(max(0.0, 2.0 - (time.monotonic() - healed)))
    quiet_database()
    stats = proxy("stats")

    spawned = instances()
    workload = [c for c in REPORT.calls if c.who.startswith("w") and not c.op.startswith("retry")]
    verifier = Verifier(workers)
    verifier.run()
    for problem in request_lines_disagree(REPORT.calls):
        REPORT.violation("request line", problem)
    counted = sum(1 for c in REPORT.calls if c.status in (503, 504))
    print(f"request lines: one per answered request; DatabaseUnavailable on all {counted} "
          "503/504 and on nothing else" if "request line" not in
          {kind for kind, _ in REPORT.violations} else "request lines: see the violations")

    by_status = collections.Counter(str(c.status) if c.status else "none" for c in workload)
    by_phase = collections.defaultdict(collections.Counter)
    for c in workload:
        if c.status in (503, 504) or c.status is None:
            by_phase[phase_at(c.sent).split()[0]][str(c.status)] += 1
    print("timeline: " + ", ".join(f"{t:.1f}s {name}" for t, name in TIMELINE))
    print("503/504 by the fault at the time sent: " + "; ".join(
        f"{p}: {dict(s)}" for p, s in sorted(by_phase.items())))
    print("outcomes of the unsettled writes (from the database): " + "; ".join(
        f"{k}: {n}" for k, n in sorted(verifier.outcomes.items())))
    cold = {f: n - warm.get(f, 0) for f, n in spawned.items() if n > warm.get(f, 0)}
    print(f"instances started after the warm-up (cold starts under faults): {cold or 'none'}")
    print("recovery after the heal: " + ", ".join(
        f"{k} {'never' if v is None else f'{v:.1f} s'}" for k, v in recovered.items()))

    kinds = collections.Counter(kind for kind, _ in REPORT.violations)
    for kind, text in REPORT.violations:
        print(f"VIOLATION [{kind}] {text}")
    faults = stats["faults"]
    summary = (
        f"fault campaign: {len(workload)} requests in {workload_seconds:.0f} s "
        f"({', '.join(f'{k}: {n}' for k, n in sorted(by_status.items()))}); "
        f"faults injected: {', '.join(f'{k} {n}' for k, n in faults.items())} "
        f"(delay: chunks, others: connections; switches {stats['switches']}); "
        f"violations: {len(REPORT.violations)}"
        + (f" ({', '.join(f'{k}: {n}' for k, n in kinds.most_common())})" if kinds else ""))
    print(summary)
    if REPORT.violations or os.environ.get("FAULT_KEEP"):
        path = "/tmp/todo-fault-campaign-requests.jsonl"
        with open(path, "w") as f:
            for c in REPORT.calls:
                f.write(json.dumps(c.record(), default=str) + "\n")
        db = "/tmp/todo-fault-campaign-db.json"
        with open(db, "w") as f:
            json.dump({"users": {w.who: w.uid for w in workers},
                       "after the heal": list(verifier.first["by_id"].values()),
                       "after the retries": list(verifier.final["by_id"].values())}, f)
        print(f"every request and its answer: {path}; the tasks in the database: {db}")
    return 1 if REPORT.violations else 0


if __name__ == "__main__":
    sys.exit(main())
