"""End-to-end tests run by scripts/e2e.sh against the functions under `cargo lambda watch`."""

import json
import os
import shutil
import sys
import uuid
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import requests

BASE = os.environ.get("API_URL", "http://127.0.0.1:9000")
# tests/support: the Lambda Runtime API stand-in (shared with `make bench`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))


SEEN = os.environ.get("SECRETS_SEEN")
_send = requests.Session.send


def _secrets_of(body, content_type: str) -> list[str]:
    """The passwords and tokens in a request or response body, JSON or a form."""
    if not body:
        return []
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if "json" in content_type:
        try:
            fields = json.loads(body)
        except ValueError:
            return []
        fields = fields if isinstance(fields, dict) else {}
    elif "form" in content_type:
        fields = dict(parse_qsl(body))
    else:
        return []
    return [v for k, v in fields.items()
            if isinstance(v, str) and ("password" in k or "token" in k)]


def _recording_send(self, request, **kwargs):
    """Every password the tests send and token they are given goes to $SECRETS_SEEN,
    which scripts/with-dev-api.sh scans the functions' log for once the run is over
    (tests/support/log_scan.py)."""
    response = _send(self, request, **kwargs)
    found = _secrets_of(request.body, request.headers.get("content-type", ""))
    found += _secrets_of(response.content, response.headers.get("content-type", ""))
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        found.append(token)
    if found:
        with open(SEEN, "a", encoding="utf-8") as out:
            out.writelines(f"{value}\n" for value in found if "\n" not in value)
    return response


if SEEN:
    requests.Session.send = _recording_send


class Api:
    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def __call__(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.http.request(method, self.base + path, **kwargs)

    def signup(self) -> dict:
        name = "u" + uuid.uuid4().hex[:12]
        body = {"username": name, "email": f"{name}@example.com", "password": "s3cret-pass",
                "confirm_password": "s3cret-pass"}
        r = self("POST", "/api/auth/signup", json=body)
        assert r.status_code == 201, r.text
        session = r.json()
        session["password"] = "s3cret-pass"
        session["auth"] = {"Authorization": f"Bearer {session['access_token']}"}
        return session


@pytest.fixture(scope="session")
def api() -> Api:
    return Api(BASE)


@pytest.fixture()
def ann(api: Api) -> dict:
    return api.signup()


@pytest.fixture()
def bob(api: Api) -> dict:
    return api.signup()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking flags Chromium keeps dialling hosts this closed
# network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture()
def page():
    """A page in headless Chromium (the system's, driven by Playwright; nothing is
    downloaded). Skipped where Chromium is missing, except in CI."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (scripts/setup.sh test installs it)")
        pytest.skip("chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        # A browser's first run on a fresh machine (font cache, profile) once took
        # about 30 s before the page's script ran.
        page.set_default_timeout(60_000)
        yield page
        browser.close()
