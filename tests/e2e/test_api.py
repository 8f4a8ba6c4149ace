"""Every route over HTTP, through the same router and functions as `make dev`.

The handler tests (`cargo test`) prove each route's rules in detail; these prove what
only the running API can: that every route reaches its function through the watch
router (path parameters included), that preflights reach the functions, and that a
session made by one function works in another."""

import uuid


def is_problem(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["type"] == "about:blank" and body["detail"]
    assert r.headers.get("x-request-id")
    return body


def test_health_and_spec(api):
    r = api("GET", "/api/health", headers={"x-request-id": "trace-me-42"})
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok"}
    assert r.headers["x-request-id"] == "trace-me-42"
    r = api("GET", "/openapi.yaml")
    assert r.status_code == 200 and r.text.startswith("openapi: 3.1")
    spec = api("GET", "/openapi.json").json()
    assert "/api/{user_id}/tasks/{id}/complete" in spec["paths"]
    r = api("GET", "/docs")
    assert r.status_code == 200 and "SwaggerUIBundle" in r.text
    assert r.headers.get("content-encoding") == "gzip"  # requests asks for gzip


def test_auth_routes(api):
    ann = api.signup()
    user = ann["user"]
    r = api("POST", "/api/auth/login", json={"username": user["email"].upper(), "password": "s3cret-pass"})
    assert r.status_code == 200 and r.json()["user"]["id"] == user["id"]
    name = "r" + uuid.uuid4().hex[:10]
    r = api("POST", "/api/v1/auth/register", json={"username": name, "email": f"{name}@example.com", "password": "s3cret-pass"})
    assert r.status_code == 201 and r.json()["username"] == name
    r = api("POST", "/api/v1/auth/token", data={"grant_type": "password", "username": name, "password": "s3cret-pass"})
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
    r = api("POST", "/api/v1/auth/token", data={"username": name, "password": "wrong-pass"})
    is_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"


def test_task_routes(api, ann, bob):
    uid, auth = ann["user"]["id"], ann["auth"]
    r = api("POST", f"/api/{uid}/tasks", json={"title": " Buy milk ", "description": "2 litres"}, headers=auth)
    assert r.status_code == 201, r.text
    task = r.json()
    assert r.headers["location"] == f"/api/{uid}/tasks/{task['id']}"
    r = api("GET", f"/api/{uid}/tasks/{task['id']}", headers=auth)
    assert r.status_code == 200 and r.json() == task
    r = api("GET", f"/api/{uid}/tasks?sort_by=title&sort_order=asc&page_size=5", headers=auth)
    assert r.status_code == 200 and r.json()["items"] == [task]
    r = api("PUT", f"/api/{uid}/tasks/{task['id']}", json={"title": "Buy oat milk", "completed": False}, headers=auth)
    assert r.status_code == 200 and r.json()["title"] == "Buy oat milk"
    r = api("PATCH", f"/api/{uid}/tasks/{task['id']}/complete", headers=auth)
    assert r.status_code == 200 and r.json()["completed"] is True
    # Another user: 403 on the path, 404 on the task, through every function.
    is_problem(api("GET", f"/api/{uid}/tasks", headers=bob["auth"]), 403)
    is_problem(api("PATCH", f"/api/{bob['user']['id']}/tasks/{task['id']}/complete", headers=bob["auth"]), 404)
    r = api("DELETE", f"/api/{uid}/tasks/{task['id']}", headers=auth)
    assert r.status_code == 200 and r.json()["title"] == "Buy oat milk"
    is_problem(api("DELETE", f"/api/{uid}/tasks/{task['id']}", headers=auth), 404)
    is_problem(api("GET", f"/api/{uid}/tasks"), 401)


def test_preflights_reach_the_functions(api, ann):
    uid = ann["user"]["id"]
    origin = "http://localhost:5173"
    for path in [f"/api/{uid}/tasks", f"/api/{uid}/tasks/{uuid.uuid4()}",
                 f"/api/{uid}/tasks/{uuid.uuid4()}/complete", "/api/auth/login"]:
        r = api("OPTIONS", path, headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                          "Access-Control-Request-Headers": "authorization, content-type"})
        assert r.status_code == 204, path
        assert r.headers["access-control-allow-origin"] == origin
        assert "authorization" in r.headers["access-control-allow-headers"]
        assert "if-match" in r.headers["access-control-allow-headers"]
    r = api("GET", f"/api/{uid}/tasks", headers={**ann["auth"], "Origin": origin})
    assert "etag" in r.headers["access-control-expose-headers"]
    r = api("GET", f"/api/{uid}/tasks", headers={**ann["auth"], "Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in r.headers


def test_login_throttling(api):
    """Over HTTP, with the default limit (10 failures in 15 minutes): the 11th attempt is
    a 429 with Retry-After on both login routes, the right password included."""
    who = api.signup()
    name = who["user"]["username"]
    for _ in range(10):
        is_problem(api("POST", "/api/auth/login", json={"username": name, "password": "wrong-pass"}), 401)
    r = api("POST", "/api/auth/login", json={"username": name, "password": who["password"]})
    is_problem(r, 429)
    assert 1 <= int(r.headers["retry-after"]) <= 900
    is_problem(api("POST", "/api/v1/auth/token", data={"username": name, "password": who["password"]}), 429)


def test_conditional_requests(api, ann):
    """ETag, If-None-Match and If-Match over HTTP: a cached copy is revalidated, and an
    edit made from a stale copy is refused instead of overwriting the newer one."""
    uid, auth = ann["user"]["id"], ann["auth"]
    task = api("POST", f"/api/{uid}/tasks", json={"title": "draft"}, headers=auth)
    tag, url = task.headers["etag"], task.headers["location"]
    r = api("GET", url, headers={**auth, "If-None-Match": tag})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == tag
    r = api("PUT", url, json={"title": "tab one", "completed": False}, headers={**auth, "If-Match": tag})
    assert r.status_code == 200 and r.headers["etag"] != tag
    r = api("PUT", url, json={"title": "tab two", "completed": False}, headers={**auth, "If-Match": tag})
    is_problem(r, 412)
    assert api("GET", url, headers=auth).json()["title"] == "tab one"


def test_idempotent_create(api, ann):
    uid, auth = ann["user"]["id"], ann["auth"]
    headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    first = api("POST", f"/api/{uid}/tasks", json={"title": "once"}, headers=headers)
    again = api("POST", f"/api/{uid}/tasks", json={"title": "once"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    assert api("GET", f"/api/{uid}/tasks", headers=auth).json()["total"] == 1
    is_problem(api("POST", f"/api/{uid}/tasks", json={"title": "other"}, headers=headers), 422)
