"""Every route of the API through the client openapi-python-client generates from
openapi.yaml (the package `todo_api_client`, on PYTHONPATH), against $API_URL.

Run by tests/e2e/test_clients.py after generating the client. Any failed assertion
raises, and the script exits non-zero.
"""

import os
import random
import re
import string
import time
from http import HTTPStatus
from urllib.parse import unquote

from todo_api_client import AuthenticatedClient, Client
from todo_api_client.api.auth import issue_token, login, register, signup
from todo_api_client.api.service import health, openapi_json, openapi_yaml, swagger_ui
from todo_api_client.api.tasks import (
    complete_task,
    create_task,
    delete_task,
    get_task,
    list_tasks,
    replace_task,
)
from todo_api_client.models import (
    ListTasksSortBy,
    LoginByEmail,
    ListTasksSortOrder,
    Problem,
    ProblemType,
    RegisterRequest,
    Session,
    SignupRequest,
    Task,
    TaskComplete,
    TaskCreate,
    TaskList,
    TaskReplace,
    Token,
    TokenRequest,
    TokenRequestGrantType,
    User,
)
from todo_api_client.types import Response

BASE = os.environ["API_URL"]
RUN = f"{int(time.time() * 1000):x}{''.join(random.choices(string.ascii_lowercase, k=4))}"
PASSWORD = "s3cret-pass"


def step(name: str) -> None:
    print(f"ok - {name}", flush=True)


def parsed(response: Response, status: int, kind: type):
    """The body of a success, as the generated model `kind`."""
    assert response.status_code == status, (response.status_code, response.content)
    assert isinstance(response.parsed, kind), type(response.parsed)
    assert response.headers.get("x-request-id"), "x-request-id on every answer"
    return response.parsed


def problem(response: Response, status: int) -> Problem:
    """A problem document, as the generated `Problem` model."""
    assert response.status_code == status, (response.status_code, response.content)
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.parsed
    assert isinstance(body, Problem), type(body)
    assert body.type_ == ProblemType.ABOUTBLANK
    assert body.status == status
    assert body.title and body.detail
    assert response.headers.get("x-request-id")
    return body


anon = Client(base_url=BASE)

# ---- auth ---------------------------------------------------------------------------
ann = {"username": f"ann_{RUN}", "email": f"ann_{RUN}@example.com"}
r = signup.sync_detailed(
    client=anon,
    body=SignupRequest(**ann, password=PASSWORD, confirm_password=PASSWORD),
    x_request_id=f"py-signup-{RUN}",
)
session = parsed(r, 201, Session)
assert session.user.username == ann["username"] and session.user.email == ann["email"]
assert session.token_type.value == "bearer" and session.expires_in > 0
assert r.headers["x-request-id"] == f"py-signup-{RUN}"
user_id = str(session.user.id)
step("signup (201 Session; x-request-id echoed)")

r = login.sync_detailed(client=anon, body=LoginByEmail(email=ann["email"].upper(), password=PASSWORD))
logged_in = parsed(r, 200, Session)
assert str(logged_in.user.id) == user_id
step("login by email (200 Session)")

bob = {"username": f"bob_{RUN}", "email": f"bob_{RUN}@example.com"}
r = register.sync_detailed(client=anon, body=RegisterRequest(**bob, password=PASSWORD))
assert parsed(r, 201, User).username == bob["username"]
step("register (201 User)")

r = issue_token.sync_detailed(
    client=anon,
    body=TokenRequest(grant_type=TokenRequestGrantType.PASSWORD, username=bob["username"], password=PASSWORD),
)
bob_token = parsed(r, 200, Token)
assert bob_token.token_type.value == "bearer" and bob_token.expires_in > 0
step("OAuth2 password grant as a form (200 Token)")

client = AuthenticatedClient(base_url=BASE, token=logged_in.access_token)
bob_client = AuthenticatedClient(base_url=BASE, token=bob_token.access_token)

# ---- create -------------------------------------------------------------------------
key = f"create-{RUN}"
r = create_task.sync_detailed(
    user_id, client=client, body=TaskCreate(title="1 buy milk", description="Two litres"), idempotency_key=key
)
task = parsed(r, 201, Task)
assert task.title == "1 buy milk" and task.description == "Two litres"
assert task.completed is False, "completed defaults to false"
assert task.user_id == user_id
assert r.headers["Location"] == f"/api/{user_id}/tasks/{task.id}"
etag0 = r.headers["ETag"]
step("create with an Idempotency-Key (201, Location, ETag)")

r = create_task.sync_detailed(
    user_id, client=client, body=TaskCreate(title="1 buy milk", description="Two litres"), idempotency_key=key
)
assert parsed(r, 201, Task).id == task.id
assert r.headers.get("Idempotent-Replayed") == "true"
step("the same create again is replayed (same task, Idempotent-Replayed)")

for title in ["2 call the plumber", "3 water the plants"]:
    parsed(create_task.sync_detailed(user_id, client=client, body=TaskCreate(title=title)), 201, Task)
r = create_task.sync_detailed(user_id, client=client, body=TaskCreate(title="0 done already", completed=True))
done = parsed(r, 201, Task)
assert done.completed is True
done_etag = r.headers["ETag"]
step("three more creates, one of them completed")

# ---- list: every query parameter, then the cursor -----------------------------------
listing = dict(page_size=2, sort_by=ListTasksSortBy.TITLE, sort_order=ListTasksSortOrder.ASC, completed=False)
r = list_tasks.sync_detailed(user_id, client=client, page=1, **listing)
first = parsed(r, 200, TaskList)
assert [t.title for t in first.items] == ["1 buy milk", "2 call the plumber"]
assert (first.total, first.page, first.page_size, first.total_pages) == (3, 1, 2, 2)
assert isinstance(first.next_cursor, str) and first.next_cursor, f"next_cursor: {first.next_cursor!r}"
link = re.fullmatch(r'<([^>]*[?&]cursor=([^&>]+)[^>]*)>; *rel="next"', r.headers.get("Link", ""))
assert link, f"Link: <…?cursor=…>; rel=\"next\", got {r.headers.get('Link')!r}"
assert unquote(link.group(2)) == first.next_cursor
step('list with page, page_size, sort_by, sort_order, completed (next_cursor, Link rel="next")')

r = list_tasks.sync_detailed(user_id, client=client, cursor=first.next_cursor, **listing)
second = parsed(r, 200, TaskList)
assert [t.title for t in second.items] == ["3 water the plants"]
assert (second.page, second.total, second.next_cursor) == (2, 3, None)
assert "Link" not in r.headers, "no Link on the last page"
step("follow next_cursor with cursor= (page 2, the last: next_cursor null, no Link)")

# ---- get, conditional put, complete, delete -----------------------------------------
r = get_task.sync_detailed(user_id, task.id, client=client)
assert parsed(r, 200, Task) == task
assert r.headers["ETag"] == etag0
step("get (200, the same ETag)")

r = get_task.sync_detailed(user_id, task.id, client=client, if_none_match=etag0)
assert r.status_code == HTTPStatus.NOT_MODIFIED and r.headers["ETag"] == etag0
step("get with If-None-Match (304)")

r = replace_task.sync_detailed(
    user_id, task.id, client=client, body=TaskReplace(title="1 buy oat milk", completed=False), if_match=etag0
)
replaced = parsed(r, 200, Task)
assert replaced.title == "1 buy oat milk" and replaced.description is None
etag1 = r.headers["ETag"]
assert etag1 != etag0, "the ETag changes with the task"
step("conditional PUT with If-Match (200, new ETag)")

r = complete_task.sync_detailed(user_id, task.id, client=client, body=TaskComplete(completed=True), if_match=etag1)
assert parsed(r, 200, Task).completed is True
etag2 = r.headers["ETag"]
assert etag2 != etag1
step("complete with If-Match (200, completed)")

r = delete_task.sync_detailed(user_id, task.id, client=client, if_match=etag2)
assert parsed(r, 200, Task).id == task.id
step("delete with If-Match (200, the deleted task)")

# ---- one error of each kind, as typed problem documents -----------------------------
stranger = AuthenticatedClient(base_url=BASE, token="not-a-token")
r = list_tasks.sync_detailed(user_id, client=stranger)
problem(r, 401)
assert r.headers["WWW-Authenticate"].startswith("Bearer")
step("401 with a refused token")

problem(list_tasks.sync_detailed(user_id, client=bob_client), 403)
step("403 on another user's tasks")

problem(get_task.sync_detailed(user_id, task.id, client=client), 404)
step("404 on the deleted task")

invalid = problem(list_tasks.sync_detailed(user_id, client=client, page_size=101), 400)
assert [e.field for e in invalid.errors] == ["page_size"]
step("400 naming page_size")

parsed(complete_task.sync_detailed(user_id, done.id, client=client), 200, Task)  # toggles: a new ETag
r = replace_task.sync_detailed(
    user_id, done.id, client=client, body=TaskReplace(title="never", completed=False), if_match=done_etag
)
problem(r, 412)
step("412 on a stale If-Match (the task changed since)")

# ---- service routes -----------------------------------------------------------------
r = health.sync_detailed(client=anon)
assert r.status_code == 200 and r.parsed.status.value == "ok" and r.parsed.database.value == "ok"
r = openapi_json.sync_detailed(client=anon)
assert r.status_code == 200 and r.parsed.additional_properties["openapi"] == "3.1.0"
r = openapi_yaml.sync_detailed(client=anon)
assert r.status_code == 200 and r.content.startswith(b"openapi: 3.1.0")
r = swagger_ui.sync_detailed(client=anon)
assert r.status_code == 200 and b"<html" in r.content.lower()
step("health, openapi.json, openapi.yaml, docs")

print("python client: every step passed")
