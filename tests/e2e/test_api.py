"""Every route over HTTP, through the same router and functions as `make dev`."""

import uuid


def is_problem(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["type"] == "about:blank" and body["detail"]
    assert r.headers.get("x-request-id")
    return body


def test_health_and_spec(api):
    r = api("GET", "/api/health")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok"}
    assert r.headers["x-request-id"]
    r = api("GET", "/openapi.yaml")
    assert r.status_code == 200 and r.text.startswith("openapi: 3.1")
    spec = api("GET", "/openapi.json").json()
    assert "/api/{user_id}/tasks/{id}/complete" in spec["paths"]
    r = api("GET", "/docs")
    assert r.status_code == 200 and "SwaggerUIBundle" in r.text
    assert r.headers.get("content-encoding") == "gzip"  # requests asks for gzip


def test_signup_login_register_token(api):
    ann = api.signup()
    user = ann["user"]
    assert set(user) == {"id", "username", "email", "created_at", "updated_at"}
    assert ann["token_type"] == "bearer" and ann["expires_in"] == 1800
    r = api("POST", "/api/auth/login", json={"username": user["email"].upper(), "password": "s3cret-pass"})
    assert r.status_code == 200 and r.json()["user"]["id"] == user["id"]
    body = is_problem(api("POST", "/api/auth/login", json={"username": user["username"], "password": "nope-nope"}), 401)
    assert body["detail"] == "Invalid username or password."
    is_problem(api("POST", "/api/auth/signup", json={
        "username": user["username"].upper(), "email": "x" + user["email"],
        "password": "s3cret-pass", "confirm_password": "s3cret-pass"}), 409)
    name = "r" + uuid.uuid4().hex[:10]
    r = api("POST", "/api/v1/auth/register", json={"username": name, "email": f"{name}@example.com", "password": "s3cret-pass"})
    assert r.status_code == 201 and r.json()["username"] == name
    body = is_problem(api("POST", "/api/v1/auth/register", json={"username": name, "email": f"x{name}@example.com", "password": "s3cret-pass"}), 400)
    assert [e["field"] for e in body["errors"]] == ["username"]
    r = api("POST", "/api/v1/auth/token", data={"grant_type": "password", "username": name, "password": "s3cret-pass"})
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
    is_problem(api("POST", "/api/v1/auth/token", data={"grant_type": "implicit", "username": name, "password": "x"}), 400)
    r = api("POST", "/api/v1/auth/token", data={"username": name, "password": "wrong-pass"})
    is_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"


def test_task_lifecycle(api, ann):
    uid, auth = ann["user"]["id"], ann["auth"]
    r = api("POST", f"/api/{uid}/tasks", json={"title": " Buy milk ", "description": "2 litres"}, headers=auth)
    assert r.status_code == 201, r.text
    task = r.json()
    assert r.headers["location"] == f"/api/{uid}/tasks/{task['id']}"
    assert (task["title"], task["completed"], task["user_id"]) == ("Buy milk", False, uid)

    r = api("GET", f"/api/{uid}/tasks/{task['id']}", headers=auth)
    assert r.status_code == 200 and r.json() == task
    r = api("GET", f"/api/{uid}/tasks?sort_by=title&sort_order=asc&page_size=5", headers=auth)
    assert r.status_code == 200
    listing = r.json()
    assert (listing["total"], listing["page"], listing["page_size"], listing["total_pages"]) == (1, 1, 5, 1)
    assert listing["items"] == [task]

    r = api("PUT", f"/api/{uid}/tasks/{task['id']}", json={"title": "Buy oat milk", "completed": False}, headers=auth)
    assert r.status_code == 200 and r.json()["description"] is None
    assert r.json()["updated_at"] > task["updated_at"]
    r = api("PATCH", f"/api/{uid}/tasks/{task['id']}/complete", headers=auth)
    assert r.status_code == 200 and r.json()["completed"] is True
    r = api("PATCH", f"/api/{uid}/tasks/{task['id']}/complete", json={"completed": True}, headers=auth)
    assert r.json()["completed"] is True
    r = api("GET", f"/api/{uid}/tasks?completed=true", headers=auth)
    assert r.json()["total"] == 1
    r = api("DELETE", f"/api/{uid}/tasks/{task['id']}", headers=auth)
    assert r.status_code == 200 and r.json()["title"] == "Buy oat milk"
    is_problem(api("DELETE", f"/api/{uid}/tasks/{task['id']}", headers=auth), 404)


def test_bad_input_is_a_client_error(api, ann):
    uid, auth = ann["user"]["id"], ann["auth"]
    body = is_problem(api("POST", f"/api/{uid}/tasks", json={"title": "", "completed": "yes"}, headers=auth), 400)
    assert [e["field"] for e in body["errors"]] == ["title", "completed"]
    is_problem(api("POST", f"/api/{uid}/tasks", data="{", headers={**auth, "content-type": "application/json"}), 400)
    is_problem(api("POST", f"/api/{uid}/tasks", json={"title": "x" * 70000}, headers=auth), 413)
    body = is_problem(api("GET", f"/api/{uid}/tasks?page_size=500&sort_by=owner", headers=auth), 400)
    assert [e["field"] for e in body["errors"]] == ["page_size", "sort_by"]
    is_problem(api("GET", f"/api/{uid}/tasks/not-a-uuid", headers=auth), 400)
    is_problem(api("PATCH", f"/api/{uid}/tasks/{uuid.uuid4()}/complete", headers=auth), 404)


def test_users_are_isolated(api, ann, bob):
    a_uid, b_uid = ann["user"]["id"], bob["user"]["id"]
    task = api("POST", f"/api/{a_uid}/tasks", json={"title": "ann's"}, headers=ann["auth"]).json()
    tid = task["id"]
    for method, path in [("GET", f"/api/{a_uid}/tasks"), ("POST", f"/api/{a_uid}/tasks"),
                         ("GET", f"/api/{a_uid}/tasks/{tid}"), ("PUT", f"/api/{a_uid}/tasks/{tid}"),
                         ("DELETE", f"/api/{a_uid}/tasks/{tid}"), ("PATCH", f"/api/{a_uid}/tasks/{tid}/complete")]:
        is_problem(api(method, path, json={"title": "x", "completed": True}, headers=bob["auth"]), 403)
    for method, path in [("GET", f"/api/{b_uid}/tasks/{tid}"), ("PUT", f"/api/{b_uid}/tasks/{tid}"),
                         ("DELETE", f"/api/{b_uid}/tasks/{tid}"), ("PATCH", f"/api/{b_uid}/tasks/{tid}/complete")]:
        is_problem(api(method, path, json={"title": "x", "completed": True}, headers=bob["auth"]), 404)
    assert api("GET", f"/api/{a_uid}/tasks/{tid}", headers=ann["auth"]).json() == task
    r = api("GET", f"/api/{a_uid}/tasks")
    is_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    r = api("GET", f"/api/{a_uid}/tasks", headers={"Authorization": "Bearer x.y.z"})
    is_problem(r, 401)
    assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_cors_preflight_and_headers(api, ann):
    uid = ann["user"]["id"]
    origin = "http://localhost:5173"
    r = api("OPTIONS", f"/api/{uid}/tasks", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "authorization, content-type"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == origin
    assert "authorization" in r.headers["access-control-allow-headers"]
    r = api("GET", f"/api/{uid}/tasks", headers={**ann["auth"], "Origin": origin})
    assert r.headers["access-control-allow-origin"] == origin
    r = api("GET", f"/api/{uid}/tasks", headers={**ann["auth"], "Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in r.headers


def test_request_ids(api):
    r = api("GET", "/api/health", headers={"x-request-id": "trace-me-42"})
    assert r.headers["x-request-id"] == "trace-me-42"
    a, b = api("GET", "/api/health"), api("GET", "/api/health")
    assert a.headers["x-request-id"] != b.headers["x-request-id"]
