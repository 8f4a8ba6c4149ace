// Every route of the API through the client a front end generates from openapi.yaml:
// types by openapi-typescript (generated/api.d.ts), calls by openapi-fetch. Compiled
// with `tsc --strict` and run with Node against $API_URL by tests/e2e/test_clients.py.
// Any failed assertion throws, and Node exits non-zero.
import assert from "node:assert/strict";
import createClient from "openapi-fetch";
import type { components, paths } from "../generated/api";

type Problem = components["schemas"]["Problem"];
type Task = components["schemas"]["Task"];

const baseUrl = process.env.API_URL;
if (!baseUrl) throw new Error("API_URL is not set");

const api = createClient<paths>({ baseUrl });
const run = Date.now().toString(36) + Math.floor(Math.random() * 1e6).toString(36);
const password = "s3cret-pass";

function step(name: string): void {
  console.log(`ok - ${name}`);
}

// A problem document as the generated types give it: the `error` of a call.
function problem(error: Problem | undefined, response: Response, status: number): Problem {
  assert.equal(response.status, status, `expected ${status}, got ${response.status}`);
  assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.ok(error, "a problem document");
  assert.equal(error.type, "about:blank");
  assert.equal(error.status, status);
  assert.ok(error.title.length > 0 && error.detail.length > 0);
  assert.ok(response.headers.get("x-request-id"), "x-request-id on every answer");
  return error;
}

// ---- auth -----------------------------------------------------------------------
const ann = { username: `ann_${run}`, email: `ann_${run}@example.com` };
const signup = await api.POST("/api/auth/signup", {
  params: { header: { "x-request-id": `ts-signup-${run}` } },
  body: { ...ann, password, confirm_password: password },
});
assert.equal(signup.response.status, 201, JSON.stringify(signup.error));
assert.ok(signup.data);
assert.equal(signup.data.user.username, ann.username);
assert.equal(signup.data.user.email, ann.email);
assert.equal(signup.data.token_type, "bearer");
assert.ok(signup.data.expires_in > 0);
assert.equal(signup.response.headers.get("x-request-id"), `ts-signup-${run}`);
const userId = signup.data.user.id;
step("signup (201 Session; x-request-id echoed)");

const login = await api.POST("/api/auth/login", { body: { email: ann.email.toUpperCase(), password } });
assert.equal(login.response.status, 200, JSON.stringify(login.error));
assert.ok(login.data);
assert.equal(login.data.user.id, userId);
assert.ok(login.data.access_token);
step("login by email (200 Session)");

const bob = { username: `bob_${run}`, email: `bob_${run}@example.com` };
const register = await api.POST("/api/v1/auth/register", { body: { ...bob, password } });
assert.equal(register.response.status, 201, JSON.stringify(register.error));
assert.equal(register.data?.username, bob.username);
step("register (201 User)");

const form = await api.POST("/api/v1/auth/token", {
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
  body: { grant_type: "password", username: bob.username, password },
});
assert.equal(form.response.status, 200, JSON.stringify(form.error));
assert.ok(form.data);
assert.equal(form.data.token_type, "bearer");
assert.ok(form.data.expires_in > 0);
step("OAuth2 password grant as a form (200 Token)");

const annApi = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${login.data.access_token}` } });
const bobApi = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${form.data.access_token}` } });
const path = { user_id: userId };

// ---- create ---------------------------------------------------------------------
const key = `create-${run}`;
const created = await annApi.POST("/api/{user_id}/tasks", {
  params: { path, header: { "Idempotency-Key": key } },
  body: { title: "1 buy milk", description: "Two litres" },
});
assert.equal(created.response.status, 201, JSON.stringify(created.error));
assert.ok(created.data);
const task: Task = created.data;
assert.equal(task.title, "1 buy milk");
assert.equal(task.description, "Two litres");
assert.equal(task.completed, false, "completed defaults to false");
assert.equal(task.user_id, userId);
assert.equal(created.response.headers.get("Location"), `/api/${userId}/tasks/${task.id}`);
const etag0 = created.response.headers.get("ETag");
assert.ok(etag0, "ETag on create");
step("create with an Idempotency-Key (201, Location, ETag)");

const replay = await annApi.POST("/api/{user_id}/tasks", {
  params: { path, header: { "Idempotency-Key": key } },
  body: { title: "1 buy milk", description: "Two litres" },
});
assert.equal(replay.response.status, 201);
assert.equal(replay.data?.id, task.id);
assert.equal(replay.response.headers.get("Idempotent-Replayed"), "true");
step("the same create again is replayed (same task, Idempotent-Replayed)");

for (const title of ["2 call the plumber", "3 water the plants"]) {
  const r = await annApi.POST("/api/{user_id}/tasks", { params: { path }, body: { title } });
  assert.equal(r.response.status, 201, JSON.stringify(r.error));
}
const done = await annApi.POST("/api/{user_id}/tasks", { params: { path }, body: { title: "0 done already", completed: true } });
assert.ok(done.data);
assert.equal(done.data.completed, true);
const doneEtag = done.response.headers.get("ETag");
assert.ok(doneEtag);
step("three more creates, one of them completed");

// ---- list: every query parameter, then the cursor -------------------------------
const listing = { page_size: 2, sort_by: "title", sort_order: "asc", completed: false } as const;
const first = await annApi.GET("/api/{user_id}/tasks", { params: { path, query: { ...listing, page: 1 } } });
assert.equal(first.response.status, 200, JSON.stringify(first.error));
assert.ok(first.data);
assert.deepEqual(first.data.items.map((t) => t.title), ["1 buy milk", "2 call the plumber"]);
assert.equal(first.data.total, 3);
assert.equal(first.data.page, 1);
assert.equal(first.data.page_size, 2);
assert.equal(first.data.total_pages, 2);
const cursor = first.data.next_cursor;
assert.equal(typeof cursor, "string", "next_cursor on a page that is not the last");
assert.ok(cursor);
const link = first.response.headers.get("Link") ?? "";
const next = /^<([^>]*[?&]cursor=([^&>]+)[^>]*)>; *rel="next"$/.exec(link);
assert.ok(next, `Link: <…?cursor=…>; rel="next", got ${JSON.stringify(link)}`);
assert.equal(decodeURIComponent(next[2] ?? ""), cursor);
step('list with page, page_size, sort_by, sort_order, completed (next_cursor, Link rel="next")');

const second = await annApi.GET("/api/{user_id}/tasks", {
  params: { path, query: { page_size: 2, sort_by: "title", sort_order: "asc", completed: false, cursor } },
});
assert.equal(second.response.status, 200, JSON.stringify(second.error));
assert.ok(second.data);
assert.deepEqual(second.data.items.map((t) => t.title), ["3 water the plants"]);
assert.equal(second.data.page, 2);
assert.equal(second.data.total, 3);
assert.equal(second.data.next_cursor, null);
assert.equal(second.response.headers.get("Link"), null, "no Link on the last page");
step("follow next_cursor with cursor= (page 2, the last: next_cursor null, no Link)");

// ---- get, conditional put, complete, delete -------------------------------------
const taskPath = { user_id: userId, id: task.id };
const got = await annApi.GET("/api/{user_id}/tasks/{id}", { params: { path: taskPath } });
assert.equal(got.response.status, 200);
assert.deepEqual(got.data, task);
assert.equal(got.response.headers.get("ETag"), etag0);
step("get (200, the same ETag)");

const unchanged = await annApi.GET("/api/{user_id}/tasks/{id}", {
  params: { path: taskPath, header: { "If-None-Match": etag0 } },
});
assert.equal(unchanged.response.status, 304);
assert.equal(unchanged.response.headers.get("ETag"), etag0);
step("get with If-None-Match (304)");

const put = await annApi.PUT("/api/{user_id}/tasks/{id}", {
  params: { path: taskPath, header: { "If-Match": etag0 } },
  body: { title: "1 buy oat milk", completed: false },
});
assert.equal(put.response.status, 200, JSON.stringify(put.error));
assert.equal(put.data?.title, "1 buy oat milk");
assert.equal(put.data?.description, null, "an absent description becomes null");
const etag1 = put.response.headers.get("ETag");
assert.ok(etag1 && etag1 !== etag0, "the ETag changes with the task");
step("conditional PUT with If-Match (200, new ETag)");

const completed = await annApi.PATCH("/api/{user_id}/tasks/{id}/complete", {
  params: { path: taskPath, header: { "If-Match": etag1 } },
  body: { completed: true },
});
assert.equal(completed.response.status, 200, JSON.stringify(completed.error));
assert.equal(completed.data?.completed, true);
const etag2 = completed.response.headers.get("ETag");
assert.ok(etag2 && etag2 !== etag1);
step("complete with If-Match (200, completed)");

const deleted = await annApi.DELETE("/api/{user_id}/tasks/{id}", {
  params: { path: taskPath, header: { "If-Match": etag2 } },
});
assert.equal(deleted.response.status, 200, JSON.stringify(deleted.error));
assert.equal(deleted.data?.id, task.id);
step("delete with If-Match (200, the deleted task)");

// ---- one error of each kind, as typed problem documents -------------------------
const noToken = await api.GET("/api/{user_id}/tasks", { params: { path } });
problem(noToken.error, noToken.response, 401);
assert.match(noToken.response.headers.get("WWW-Authenticate") ?? "", /^Bearer/);
step("401 without a token");

const foreign = await bobApi.GET("/api/{user_id}/tasks", { params: { path } });
problem(foreign.error, foreign.response, 403);
step("403 on another user's tasks");

const gone = await annApi.GET("/api/{user_id}/tasks/{id}", { params: { path: taskPath } });
problem(gone.error, gone.response, 404);
step("404 on the deleted task");

const badQuery = await annApi.GET("/api/{user_id}/tasks", { params: { path, query: { page_size: 101 } } });
const invalid = problem(badQuery.error, badQuery.response, 400);
assert.deepEqual(invalid.errors?.map((e) => e.field), ["page_size"]);
step("400 naming page_size");

const donePath = { user_id: userId, id: done.data.id };
const toggled = await annApi.PATCH("/api/{user_id}/tasks/{id}/complete", { params: { path: donePath } });
assert.equal(toggled.data?.completed, false, "no body toggles");
const stale = await annApi.PUT("/api/{user_id}/tasks/{id}", {
  params: { path: donePath, header: { "If-Match": doneEtag } },
  body: { title: "never", completed: false },
});
problem(stale.error, stale.response, 412);
step("412 on a stale If-Match (the task changed since)");

// ---- service routes -------------------------------------------------------------
const health = await api.GET("/api/health");
assert.deepEqual(health.data, { status: "ok", database: "ok" });
const spec = await api.GET("/openapi.json");
assert.equal((spec.data as { openapi?: string } | undefined)?.openapi, "3.1.0");
const yaml = await api.GET("/openapi.yaml", { parseAs: "text" });
assert.match(String(yaml.data), /^openapi: 3\.1\.0/);
const docs = await api.GET("/docs", { parseAs: "text" });
assert.match(String(docs.data), /<html/i);
step("health, openapi.json, openapi.yaml, docs");

console.log("typescript client: every step passed");
