"""TASK_EVENTS=outbox with the real binaries (the API under test runs with the default,
off): each write through the functions leaves exactly its event in task_events, in the
CloudEvents form docs/EVENTS.md describes; a refused write leaves none."""

import json
import os
import subprocess

from lambda_runtime import ROOT, Function, event

BIN = ROOT / "target/debug"


def events_of(task_id):
    out = subprocess.run(
        ["psql", os.environ["DATABASE_URL"], "-qtAX", "-c",
         "SELECT coalesce(json_agg(payload ORDER BY created_at, payload->>'time'), '[]') "
         f"FROM task_events WHERE aggregateid = '{task_id}'"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def test_each_write_records_exactly_its_event(ann):
    env = {"DATABASE_URL": os.environ["DATABASE_URL"],
           "BETTER_AUTH_SECRET": os.environ["BETTER_AUTH_SECRET"],
           "TASK_EVENTS": "outbox", "TASK_EVENTS_SOURCE": "/e2e"}
    bearer = {"authorization": f"Bearer {ann['access_token']}"}
    user = ann["user"]["id"]
    answers = {}
    fns = {name: Function(BIN / name, env) for name in ("tasks", "task", "complete")}
    try:
        _, created = fns["tasks"].call(event("POST", f"/api/{user}/tasks", {"title": "evented"}, bearer))
        assert created["statusCode"] == 201, created
        task = json.loads(created["body"])
        path = f"/api/{user}/tasks/{task['id']}"
        answers["created"] = task
        _, stale = fns["task"].call(event("PUT", path, {"title": "no", "completed": False},
                                          {**bearer, "if-match": '"0"'}))
        assert stale["statusCode"] == 412
        _, put = fns["task"].call(event("PUT", path, {"title": "replaced", "completed": False}, bearer))
        answers["replaced"] = json.loads(put["body"])
        _, done = fns["complete"].call(event("PATCH", f"{path}/complete", None, bearer))
        answers["completed"] = json.loads(done["body"])
        _, deleted = fns["task"].call(event("DELETE", path, None, bearer))
        assert deleted["statusCode"] == 200
        _, gone = fns["task"].call(event("DELETE", path, None, bearer))
        assert gone["statusCode"] == 404
    finally:
        for fn in fns.values():
            fn.stop()

    events = events_of(task["id"])
    assert [e["type"] for e in events] == ["todo.task.created", "todo.task.replaced",
                                           "todo.task.completed", "todo.task.deleted"]
    for e in events:
        assert e["specversion"] == "1.0" and e["source"] == "/e2e"
        assert e["subject"] == user and e["datacontenttype"] == "application/json"
        assert e["time"].endswith("Z")
    assert events[0]["data"] == answers["created"]
    assert events[1]["data"] == answers["replaced"]
    assert events[2]["data"] == answers["completed"]
    assert events[3]["data"] == answers["completed"], "a delete carries the task as it was"
    assert len({e["id"] for e in events}) == 4
