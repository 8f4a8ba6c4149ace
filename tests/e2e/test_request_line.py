"""The request line, with the real binaries as Lambda runs them (the Runtime API stand-in,
Lambda's JSON log format): one JSON line per request that is both its access-log entry
and a valid CloudWatch Embedded Metric Format document, with the invocation's X-Ray trace
id; login outcomes and an unavailable database counted; no token, password, secret or
task content anywhere in a function's output."""

import json
import os

from lambda_runtime import ROOT, Function, event, free_port

BIN = ROOT / "target/debug"
TRACE = "Root=1-67a1b2c3-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
TITLE = "a task title nobody may log 7f3a"


def run(tmp_path, name, env, events):
    """`events` through a fresh instance of function `name`: its answers and every line
    it wrote, parsed."""
    log = tmp_path / f"{name}.log"
    settings = {"BETTER_AUTH_SECRET": os.environ["BETTER_AUTH_SECRET"],
                "AWS_LAMBDA_LOG_FORMAT": "JSON", "METRICS_NAMESPACE": "E2E", "RUST_LOG": "info",
                **env}
    with open(log, "wb") as out:
        fn = Function(BIN / name, settings, stdout=out)
        try:
            answers = [fn.call(e, trace_id=TRACE)[1] for e in events]
        finally:
            fn.stop()
    text = log.read_text()
    return answers, text, [json.loads(line) for line in text.splitlines() if line.strip()]


def requests_of(lines):
    return [line for line in lines if "_aws" in line]


def assert_valid_emf(line):
    """What CloudWatch's EMF specification requires: a millisecond timestamp, directives
    with a namespace, dimension sets of 1–30 names that are string members of the line,
    and 1–100 metrics that are number members."""
    aws = line["_aws"]
    assert isinstance(aws["Timestamp"], int) and aws["Timestamp"] > 1_600_000_000_000
    assert aws["CloudWatchMetrics"]
    for directive in aws["CloudWatchMetrics"]:
        assert directive["Namespace"] == "E2E"
        for dimensions in directive["Dimensions"]:
            assert 1 <= len(dimensions) <= 30
            for name in dimensions:
                assert isinstance(line[name], str), name
        assert 1 <= len(directive["Metrics"]) <= 100
        for metric in directive["Metrics"]:
            value = line[metric["Name"]]
            assert isinstance(value, (int, float)) and not isinstance(value, bool), metric
            assert metric["Unit"] in ("Milliseconds", "Count")


def test_each_request_writes_its_access_line_and_metrics(ann, tmp_path):
    bearer = {"authorization": f"Bearer {ann['access_token']}"}
    user = ann["user"]["id"]
    answers, text, lines = run(tmp_path, "tasks", {"DATABASE_URL": os.environ["DATABASE_URL"]}, [
        event("POST", f"/api/{user}/tasks", {"title": TITLE}, bearer),
        event("GET", f"/api/{user}/tasks", None, bearer, "page_size=5"),
        event("GET", f"/api/{user}/tasks", None, {"authorization": "Bearer not-a-token"}),
    ])
    assert [a["statusCode"] for a in answers] == [201, 200, 401]
    lines = requests_of(lines)
    assert len(lines) == 3, text
    for line, answer in zip(lines, answers):
        assert_valid_emf(line)
        assert line["message"] == "request"
        assert line["request_id"] == answer["headers"]["x-request-id"]
        assert line["trace_id"] == TRACE
        assert line["Function"] == "tasks"
        assert line["status"] == answer["statusCode"]
        assert line["route"] == line["Route"]
        assert line["duration_ms"] >= line["db_ms"] >= 0
        assert line["Latency"] == line["duration_ms"] and line["DbLatency"] == line["db_ms"]
        assert line["Requests"] == 1
    created, listed, refused = lines
    assert created["method"] == "POST" and created["route"] == "POST /api/{user_id}/tasks"
    assert listed["route"] == "GET /api/{user_id}/tasks"
    assert [line["cold_start"] for line in lines] == [True, False, False]
    assert [line["ColdStart"] for line in lines] == [1, 0, 0]
    assert created["db_ms"] > 0 and listed["db_ms"] > 0
    assert refused["db_ms"] == 0, "a refused token never reaches the database"
    assert (refused["Errors4xx"], refused["Errors5xx"]) == (1, 0)
    assert (listed["Errors4xx"], listed["Errors5xx"]) == (0, 0)
    # Ids stay out of the route: never the raw path.
    assert all(user not in line["route"] for line in lines)
    for secret in (ann["access_token"], TITLE, os.environ["BETTER_AUTH_SECRET"]):
        assert secret not in text


def test_login_outcomes_are_counted_and_passwords_never_logged(ann, tmp_path):
    name = ann["user"]["username"]
    wrong = "wrong-pass-9c1e"
    answers, text, lines = run(tmp_path, "auth", {"DATABASE_URL": os.environ["DATABASE_URL"]}, [
        event("POST", "/api/auth/login", {"username": name, "password": wrong}),
        event("POST", "/api/auth/login", {"username": name, "password": ann["password"]}),
    ])
    assert [a["statusCode"] for a in answers] == [401, 200]
    failed, succeeded = requests_of(lines)
    for line in (failed, succeeded):
        assert_valid_emf(line)
        assert line["Function"] == "auth" and line["route"] == "POST /api/auth/login"
    assert failed["LoginFailed"] == 1 and "LoginSucceeded" not in failed
    assert succeeded["LoginSucceeded"] == 1 and "LoginFailed" not in succeeded
    token = json.loads(answers[1]["body"])["access_token"]
    for secret in (wrong, ann["password"], token, os.environ["BETTER_AUTH_SECRET"]):
        assert secret not in text


def test_an_unreachable_database_is_counted_and_every_log_line_has_the_trace_id(ann, tmp_path):
    bearer = {"authorization": f"Bearer {ann['access_token']}"}
    nowhere = f"postgres://postgres@127.0.0.1:{free_port()}/todo?sslmode=disable&connect_timeout=1"
    answers, text, lines = run(tmp_path, "tasks", {"DATABASE_URL": nowhere}, [
        event("GET", f"/api/{ann['user']['id']}/tasks", None, bearer),
    ])
    assert answers[0]["statusCode"] == 503
    [line] = requests_of(lines)
    assert_valid_emf(line)
    assert line["DatabaseUnavailable"] == 1 and line["Errors5xx"] == 1
    # What the function logged while answering carries the invocation's trace id.
    during = [line for line in lines if "span" in line]
    assert during, text
    assert all(line["span"]["trace_id"] == TRACE for line in during), text
    # The health check's 503 counts too (the fault campaign found it missing).
    answers, text, lines = run(tmp_path, "docs", {"DATABASE_URL": nowhere}, [
        event("GET", "/api/health"),
    ])
    assert answers[0]["statusCode"] == 503
    [line] = requests_of(lines)
    assert line["DatabaseUnavailable"] == 1 and line["Function"] == "docs", text


def test_make_dev_writes_a_readable_line_per_request(api, ann):
    """Through `make dev` (readable text: LOG_FORMAT=text) the same line, as text, in the
    functions' log, with the trace id `cargo lambda watch` gave the invocation."""
    import re
    import time
    import uuid

    request_id = f"e2e-{uuid.uuid4()}"
    r = api("GET", f"/api/{ann['user']['id']}/tasks", headers={**ann["auth"], "x-request-id": request_id})
    assert r.status_code == 200 and r.headers["x-request-id"] == request_id
    ansi = re.compile(r"\x1b\[[0-9;]*m")
    for _ in range(50):
        log = ansi.sub("", open(os.environ["DEV_API_LOG"], errors="replace").read())
        done = [line for line in log.splitlines() if request_id in line and "request done" in line]
        if done:
            break
        time.sleep(0.1)
    assert len(done) == 1, done
    assert 'route="GET /api/{user_id}/tasks"' in done[0] and "status=200" in done[0]
    assert re.search(r'trace_id="Root=1-[0-9a-f]{8}-[0-9a-f]{24}', done[0]), done[0]
    assert ann["access_token"] not in log
