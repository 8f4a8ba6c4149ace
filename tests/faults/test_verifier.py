"""The fault campaign's verifier (campaign.Verifier) on made-up histories: it must pass
every correct outcome of an unsettled write and flag every wrong one. A campaign that
flags correct behaviour is as bad as one that misses a bug. Run by scripts/faults.sh
before the campaign (no API, no database: snapshots and retries are stand-ins)."""

import collections
import json
import os
import sys
import threading
from pathlib import Path

import pytest

os.environ.setdefault("API_URL", "http://127.0.0.1:9")
os.environ.setdefault("FAULT_PROXY_CONTROL", "127.0.0.1:9")
os.environ.setdefault("DIRECT_DATABASE_URL", "postgres://127.0.0.1:9/none")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import campaign as C  # noqa: E402

UID = "00000000-0000-4000-8000-0000000000aa"
T1 = "11111111-1111-4111-8111-111111111111"
T2 = "22222222-2222-4222-8222-222222222222"
T3 = "33333333-3333-4333-8333-333333333333"
NONCE = "w0-c1-aaaa"  # T1's create
N2 = "w0-c2-bbbb"  # a create whose answer did not settle it


def call(method, status, sent_wall=1000.0, elapsed=0.1, headers=None, body=None):
    c = C.Call("w0", "op", method, "/x", 10.0, sent_wall)
    c.status, c.elapsed, c.received_wall = status, elapsed, sent_wall + elapsed
    c.headers, c.body = headers or {}, body
    return c


def row(id, title, completed=False, version=1, updated=1000.0):
    return {"id": id, "user_id": UID, "title": title, "description": None,
            "completed": completed, "version": version, "created": updated, "updated": updated}


def snapshot(rows, keys):
    by_title = collections.defaultdict(list)
    for r in rows:
        by_title[(r["user_id"], r["title"])].append(r)
    return {"by_id": {r["id"]: r for r in rows}, "by_title": by_title,
            "keys": {(UID, k): t for k, t in keys}}


STATE = {"title": "a", "description": None, "completed": False, "version": 3}
AS_ACKED = row(T1, "a", version=3)
AFTER_PUT = row(T1, "p", completed=True, version=4)


def put(status, sent_wall=1000.0):
    body = {"title": "p", "completed": True}
    return C.Write("put", call("PUT", status, sent_wall), 3, body, json.dumps(body))


def complete(status, value=True):
    body = {"completed": value}
    return C.Write("complete", call("PATCH", status), None, body, json.dumps(body))


def delete(status):
    return C.Write("delete", call("DELETE", status), 3, {}, "")


def task(state=STATE, pending=None):
    return C.TaskLog(T1, 0, NONCE, state, pending)


def created(nonce=NONCE, task_id=T1, status=201, key=None):
    return C.Create(0, nonce, key, json.dumps({"title": nonce}), call("POST", status), task_id)


def verify(monkeypatch, tasks, creates, first, final=None, keys=(), final_keys=None,
           retries=()):
    """The kinds of violation the verifier reports for this history."""
    report = C.Report()
    monkeypatch.setattr(C, "REPORT", report)
    worker = C.Worker(0, threading.Event())
    worker.uid, worker.base, worker.http = UID, f"/api/{UID}/tasks", None
    worker.tasks = {t.id: t for t in tasks}
    worker.creates = list(creates)
    snaps = [snapshot(first, keys),
             snapshot(first if final is None else final, keys if final_keys is None else final_keys)]
    monkeypatch.setattr(C, "snapshot", lambda users: snaps.pop(0))
    answers = list(retries)
    monkeypatch.setattr(C, "settle", lambda *args, **kwargs: answers.pop(0))
    C.Verifier([worker]).run()
    assert not answers, "a retry the verifier did not send"
    return sorted(kind for kind, _ in report.violations)


CASES = {
    # name: (tasks, creates, first snapshot, final snapshot, retries, kinds reported)
    "acknowledged, there": ([task()], [created()], [AS_ACKED], None, [], []),
    "acknowledged, lost": ([task()], [created()], [row(T1, "a", version=2)], None, [],
                           ["acknowledged write missing"]),
    "acknowledged delete, gone": ([task(None)], [created()], [], None, [], []),
    "acknowledged delete, there": ([task(None)], [created()], [AS_ACKED], None, [],
                                   ["acknowledged write missing"]),
    "503 put, not applied": ([task(pending=put(503))], [created()], [AS_ACKED], None, [], []),
    "503 put, applied": ([task(pending=put(503))], [created()], [AFTER_PUT], None, [],
                         ["503'd write applied"]),
    "504 put applied, retry 412": ([task(pending=put(504))], [created()], [AFTER_PUT],
                                   [AFTER_PUT], [call("PUT", 412)], []),
    "504 put applied, retry 200": ([task(pending=put(504))], [created()], [AFTER_PUT],
                                   [AFTER_PUT], [call("PUT", 200)], ["retry inconsistent"]),
    "504 put not applied, retry 200": ([task(pending=put(504))], [created()], [AS_ACKED],
                                       [AFTER_PUT], [call("PUT", 200)], []),
    "504 put, applied twice": ([task(pending=put(504))], [created()], [AS_ACKED],
                               [row(T1, "p", True, version=5)], [call("PUT", 200)],
                               ["retry inconsistent"]),
    "504 put applied late": ([task(pending=put(504))], [created()],
                             [dict(AFTER_PUT, updated=1008.0)], [AFTER_PUT],
                             [call("PUT", 412)], ["late commit"]),
    "504 put applied within the budget": ([task(pending=put(504))], [created()],
                                          [dict(AFTER_PUT, updated=1005.0)], [AFTER_PUT],
                                          [call("PUT", 412)], []),
    "put, neither outcome": ([task(pending=put(504))], [created()], [row(T1, "z", version=4)],
                             None, [], ["inconsistent state"]),
    "503 delete, applied": ([task(pending=delete(503))], [created()], [], None, [],
                            ["503'd write applied"]),
    "504 delete applied, retry 404": ([task(pending=delete(504))], [created()], [], [],
                                      [call("DELETE", 404)], []),
    "504 delete applied, retry 200": ([task(pending=delete(504))], [created()], [], [],
                                      [call("DELETE", 200)], ["retry inconsistent"]),
    "504 delete not applied, retry 200": ([task(pending=delete(504))], [created()],
                                          [AS_ACKED], [], [call("DELETE", 200)], []),
    "504 delete not applied, retry 412": ([task(pending=delete(504))], [created()],
                                          [AS_ACKED], [AS_ACKED], [call("DELETE", 412)],
                                          ["retry inconsistent"]),
    "504 complete applied, retried": ([task(pending=complete(504))], [created()],
                                      [row(T1, "a", True, version=4)],
                                      [row(T1, "a", True, version=5)], [call("PATCH", 200)], []),
    "504 complete not applied, retried": ([task(pending=complete(504))], [created()],
                                          [AS_ACKED], [row(T1, "a", True, version=4)],
                                          [call("PATCH", 200)], []),
    "503 complete, applied twice": ([task(pending=complete(503))], [created()],
                                    [row(T1, "a", True, version=5)], None, [],
                                    ["inconsistent state"]),
    "503 complete to the same value, applied": (
        [task(dict(STATE, completed=True), complete(503))], [created()],
        [row(T1, "a", True, version=4)], None, [], ["503'd write applied"]),
    "503 create, absent": ([], [created(N2, None, 503)], [], None, [], []),
    "503 create, there": ([], [created(N2, None, 503)], [row(T2, N2)], None, [],
                          ["503'd write applied"]),
    "504 create without key, there": ([], [created(N2, None, 504)], [row(T2, N2)], None, [],
                                      []),
    "504 create without key, twice": ([], [created(N2, None, 504)],
                                      [row(T2, N2), row(T3, N2)], None, [],
                                      ["duplicate create"]),
    "504 keyed create applied, replayed": (
        [], [created(N2, None, 504, "k")], [row(T2, N2)], [row(T2, N2)],
        [call("POST", 201, headers={"idempotent-replayed": "true"}, body={"id": T2})], []),
    "504 keyed create applied, created again": (
        [], [created(N2, None, 504, "k")], [row(T2, N2)], [row(T2, N2), row(T3, N2)],
        [call("POST", 201, body={"id": T3})], ["retry inconsistent"]),
    "504 keyed create not applied, created": (
        [], [created(N2, None, 504, "k")], [], [row(T3, N2)],
        [call("POST", 201, body={"id": T3})], []),
    "phantom task": ([task()], [created()], [AS_ACKED, row(T3, "nobody")], None, [],
                     ["phantom task"]),
    "acknowledged create, twice": ([task(dict(STATE, title=NONCE))], [created()],
                                   [row(T1, NONCE, version=3), row(T3, NONCE)], None, [],
                                   ["duplicate create"]),
}


@pytest.mark.parametrize("name", CASES)
def test_verifier(monkeypatch, name):
    tasks, creates, first, final, retries, kinds = CASES[name]
    keys = [("k", T2)] if name.startswith("504 keyed create applied") else []
    final_keys = [("k", T3)] if name == "504 keyed create not applied, created" else None
    assert verify(monkeypatch, tasks, creates, first, final, keys, final_keys, retries) == kinds


def test_a_key_kept_without_its_task_is_flagged(monkeypatch):
    kinds = verify(monkeypatch, [], [created(N2, None, 504, "k")], [], [row(T3, N2)],
                   keys=[("k", T3)], retries=[call("POST", 201, body={"id": T3})])
    assert kinds == ["inconsistent state"]
