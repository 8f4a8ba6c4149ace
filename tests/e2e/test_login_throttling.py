"""Login throttling over HTTP, with the API's defaults (10 failures per account and
client address, 100 per address, a 15-minute window).

The client address is the connection's peer (the patched `cargo lambda watch` puts it in
`requestContext.http.sourceIp`, as API Gateway does), so each test speaks from
addresses of its own in 127.0.0.0/8 (all of which reach the local API), never from
127.0.0.1, which the other tests share."""

import os
import random
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from requests.adapters import HTTPAdapter

BASE = os.environ.get("API_URL", "http://127.0.0.1:9000")


class FromAddress(HTTPAdapter):
    """Connections bound to one local address."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    return session


def fresh_address() -> str:
    return f"127.{random.randint(20, 250)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def login(session: requests.Session, username: str, password: str, **headers) -> requests.Response:
    return session.post(f"{BASE}/api/auth/login", json={"username": username, "password": password},
                        headers=headers, timeout=30)


@pytest.fixture()
def owner(api) -> dict:
    return api.signup()


def test_a_burst_of_guesses_gets_ten_password_checks_and_the_owner_gets_in(owner):
    attacker = fresh_address()
    name = owner["user"]["username"]

    def guess(i: int) -> int:
        with client(attacker) as session:
            return login(session, name, f"wrong-guess-{i}").status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(guess, range(40)))
    assert sorted(set(statuses)) == [401, 429], statuses
    assert statuses.count(401) <= 10, f"{statuses.count(401)} passwords checked"
    # Still throttled from there, the right password included, and on the token route.
    with client(attacker) as session:
        r = login(session, name, owner["password"])
        assert r.status_code == 429, r.text
        assert 1 <= int(r.headers["retry-after"]) <= 900
        assert r.headers["content-type"] == "application/problem+json"
        r = session.post(f"{BASE}/api/v1/auth/token", timeout=30,
                         data={"username": name, "password": owner["password"]})
        assert r.status_code == 429
        # A header the client writes is not its address.
        for forwarded in ["127.0.0.1", fresh_address(), f"{fresh_address()}, 10.0.0.1"]:
            r = login(session, name, owner["password"], **{"X-Forwarded-For": forwarded})
            assert r.status_code == 429, (forwarded, r.text)
    # The owner, from another address, is not locked out.
    with client(fresh_address()) as session:
        r = login(session, name, owner["password"])
        assert r.status_code == 200, r.text


def test_one_address_spraying_accounts_is_stopped_after_a_hundred(owner):
    sprayer = fresh_address()
    prefix = "spray" + uuid.uuid4().hex[:8]

    def spray(i: int) -> int:
        with client(sprayer) as session:
            return login(session, f"{prefix}{i:03}", "Summer2026!").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(spray, range(100)))
    assert statuses == [401] * 100, statuses
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(spray, range(100, 110)))
    assert statuses == [429] * 10, statuses
    with client(sprayer) as session:
        assert login(session, owner["user"]["username"], owner["password"]).status_code == 429
    # Another address goes on, unknown names and the owner alike.
    with client(fresh_address()) as session:
        assert login(session, f"{prefix}105", "Summer2026!").status_code == 401
        assert login(session, owner["user"]["username"], owner["password"]).status_code == 200
