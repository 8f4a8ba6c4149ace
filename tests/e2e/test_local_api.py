"""What only the local API can show: the patched `cargo lambda watch`
(tools/cargo-lambda) delivers large responses whole, every time, on kept-alive and on
fresh connections; a request body that is not UTF-8 reaches the function (base64, as
API Gateway sends it) and is its 400, and so does a header value that is not UTF-8; and
100 simultaneous requests are all answered.

Unpatched, watch 1.9.2 acknowledged a function's response before reading it, so a body
over ~16 KiB stalled or came back as watch's own 500 in a few percent of requests: 50
fetches of each large response below would almost surely catch one."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

FETCHES = 50
SLOW_S = 5.0  # a stall, not a slow response: these answer in milliseconds


def fetch_repeatedly(url: str, headers: dict, fresh: bool) -> list[str]:
    """Fetches `url` FETCHES times; returns what went wrong (nothing, if all is well).

    `fresh`: a new connection per request (`Connection: close`); otherwise one
    kept-alive connection for all of them."""
    problems, session, size = [], requests.Session(), None
    for i in range(FETCHES):
        started = time.monotonic()
        try:
            if fresh:
                r = requests.get(url, headers={**headers, "Connection": "close"}, timeout=SLOW_S * 2)
            else:
                r = session.get(url, headers=headers, timeout=SLOW_S * 2)
        except requests.RequestException as e:
            problems.append(f"#{i}: {type(e).__name__} after {time.monotonic() - started:.1f} s")
            continue
        elapsed = time.monotonic() - started
        if r.status_code != 200:
            problems.append(f"#{i}: {r.status_code} {r.text[:120]}")
        elif elapsed > SLOW_S:
            problems.append(f"#{i}: took {elapsed:.1f} s")
        elif size is not None and len(r.content) != size:
            problems.append(f"#{i}: {len(r.content)} bytes, earlier {size}")
        size = len(r.content) if r.status_code == 200 else size
    session.close()
    return problems


@pytest.fixture(scope="module")
def long_page(api):
    """A user with 100 tasks of 2000-character descriptions: a ~220 KB page."""
    who = api.signup()
    uid = who["user"]["id"]
    for n in range(100):
        r = api("POST", f"/api/{uid}/tasks", headers=who["auth"],
                json={"title": f"task {n}", "description": (f"{n} " + "lorem ipsum " * 200)[:2000]})
        assert r.status_code == 201, r.text
    return f"/api/{uid}/tasks?page_size=100", who["auth"]


@pytest.mark.parametrize("fresh", [False, True], ids=["kept-alive", "fresh-connections"])
@pytest.mark.parametrize("what", ["/docs", "/openapi.json", "long page of tasks"])
def test_large_responses_arrive_whole_every_time(api, long_page, what, fresh):
    path, headers = long_page if what == "long page of tasks" else (what, {})
    # Identity encoding for /docs: the 2 MB page rather than its 0.5 MB gzip.
    headers = {**headers, "Accept-Encoding": "identity"}
    first = api("GET", path, headers=headers)
    assert first.status_code == 200, first.text[:200]
    assert len(first.content) > 32 * 1024, "not large enough to show the stall"
    problems = fetch_repeatedly(api.base + path, headers, fresh)
    assert not problems, f"{len(problems)} of {FETCHES} fetches of {what} failed: {problems[:5]}"


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_non_utf8_body_is_a_400_from_the_function(api, ann, method):
    uid, auth = ann["user"]["id"], ann["auth"]
    path = f"/api/{uid}/tasks" if method == "POST" else f"/api/{uid}/tasks/{uuid.uuid4()}"
    r = api(method, path, data=b'{"title": "caf\xe9 \xff"}',
            headers={**auth, "content-type": "application/json"}, timeout=SLOW_S)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "not valid JSON" in r.json()["detail"]
    # The function is not wedged: the next request is answered at once, and nothing
    # was created.
    started = time.monotonic()
    r = api("GET", f"/api/{uid}/tasks", headers=auth, timeout=SLOW_S)
    assert r.status_code == 200 and time.monotonic() - started < SLOW_S
    assert r.json()["total"] == 0


def test_header_values_that_are_not_utf8_reach_the_function(api, ann):
    """obs-text in a header (bytes 0x80-0xFF that are not UTF-8) is the function's to
    judge: an Idempotency-Key must be visible ASCII, so that is its 400; in a header it
    does not read, the request is answered as usual."""
    uid, auth = ann["user"]["id"], ann["auth"]
    r = api("POST", f"/api/{uid}/tasks", json={"title": "keyed"},
            headers={**auth, "Idempotency-Key": b"caf\xe9"}, timeout=SLOW_S)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == ["Idempotency-Key"]
    r = api("GET", f"/api/{uid}/tasks", headers={**auth, "X-Note": b"caf\xe9 \xff"}, timeout=SLOW_S)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 0, "the refused create created nothing"


def test_hundred_simultaneous_requests_are_all_answered(api, ann):
    uid, auth = ann["user"]["id"], ann["auth"]
    url = f"{api.base}/api/{uid}/tasks"

    def one(_):
        return requests.get(url, headers=auth, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=100) as pool:
        statuses = list(pool.map(one, range(100)))
    assert statuses == [200] * 100, {s: statuses.count(s) for s in set(statuses)}
