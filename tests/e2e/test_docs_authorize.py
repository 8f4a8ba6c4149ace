"""A person's path through Swagger UI: Authorize with the OAuth2 password flow, then
create and list tasks with "Try it out", in headless Chromium (Playwright drives the
system's Chromium; nothing is downloaded)."""

import json


def test_authorize_then_create_and_list_tasks(api, page):
    session = api.signup()
    username, user_id = session["user"]["username"], session["user"]["id"]

    page.goto(api.base + "/docs")
    page.wait_for_selector("#operations-tasks-createTask")

    # Authorize: the password flow posts to /api/v1/auth/token.
    page.click("button.btn.authorize")
    page.fill("#oauth_username", username)
    page.fill("#oauth_password", session["password"])
    with page.expect_response(lambda r: r.url.endswith("/api/v1/auth/token")) as token:
        page.click("button[aria-label='Apply given OAuth2 credentials']")
    assert token.value.status == 200
    page.wait_for_selector("text=Logout")
    page.locator("button.btn-done").first.click()

    # Create a task ("Try it out" is on by default on this page).
    op = page.locator("#operations-tasks-createTask")
    op.locator(".opblock-summary").click()
    op.locator("input[placeholder='user_id']").fill(user_id)
    op.locator("textarea.body-param__text").fill(json.dumps({"title": "from the browser"}))
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(f"/api/{user_id}/tasks")) as created:
        op.locator("button.execute").click()
    assert created.value.status == 201, created.value.text()
    assert created.value.request.headers["authorization"].startswith("Bearer ")

    # List them.
    op = page.locator("#operations-tasks-listTasks")
    op.locator(".opblock-summary").click()
    op.locator("input[placeholder='user_id']").fill(user_id)
    with page.expect_response(lambda r: r.request.method == "GET" and f"/api/{user_id}/tasks" in r.url) as listed:
        op.locator("button.execute").click()
    assert listed.value.status == 200
    body = listed.value.json()
    assert [t["title"] for t in body["items"]] == ["from the browser"]
    op.locator(".live-responses-table").wait_for()
