"""End-to-end tests run by scripts/e2e.sh against the functions under `cargo lambda watch`."""

import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest
import requests

BASE = os.environ.get("API_URL", "http://127.0.0.1:9000")
# tests/support: the Lambda Runtime API stand-in (shared with `make bench`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))


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
