"""End-to-end tests run by scripts/e2e.sh against the functions under `cargo lambda watch`."""

import os
import uuid

import pytest
import requests

BASE = os.environ.get("API_URL", "http://127.0.0.1:9000")


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
