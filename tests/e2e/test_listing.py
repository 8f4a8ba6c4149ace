"""The listing's cursor over HTTP: `Link` headers a generic client follows, and the
README's shell loop, run as it is written there."""

import os
import re
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_block(heading: str) -> str:
    """The first ```sh block under `heading` in the README."""
    text = (ROOT / "README.md").read_text()
    section = text.split(f"### {heading}\n", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_following_link_headers_reads_every_task_once(api, ann):
    user = ann["user"]["id"]
    made = {api("POST", f"/api/{user}/tasks", headers=ann["auth"],
                json={"title": f"t{i % 4}", "completed": i % 3 == 0}).json()["id"]
            for i in range(11)}
    for completed, expected in ((None, 11), ("false", 7)):
        query = f"?page_size=3&sort_by=title&sort_order=asc" + (f"&completed={completed}" if completed else "")
        url, seen, pages = f"/api/{user}/tasks{query}", [], []
        while url:
            r = api("GET", url, headers=ann["auth"])
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["total"] == expected
            pages.append(body["page"])
            seen += [t["id"] for t in body["items"]]
            link = r.headers.get("link")
            if body["next_cursor"] is None:
                assert link is None
                url = None
            else:
                assert r.links["next"]["url"] == f"/api/{user}/tasks?cursor={body['next_cursor']}"
                url = r.links["next"]["url"]
        assert len(seen) == len(set(seen)) == expected and set(seen) <= made
        assert pages == list(range(1, len(pages) + 1))


def test_a_cursor_is_its_owners(api, ann, bob):
    for i in range(3):
        api("POST", f"/api/{ann['user']['id']}/tasks", headers=ann["auth"], json={"title": f"a{i}"})
    cursor = api("GET", f"/api/{ann['user']['id']}/tasks?page_size=1",
                 headers=ann["auth"]).json()["next_cursor"]
    for who, query in ((bob, f"?cursor={cursor}"), (ann, f"?cursor={cursor}&page=2"),
                       (ann, f"?cursor={cursor[:-1]}"), (ann, "?cursor=x")):
        r = api("GET", f"/api/{who['user']['id']}/tasks{query}", headers=who["auth"])
        assert r.status_code == 400, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["cursor"]


def test_the_readmes_cursor_loop_lists_every_task(api, ann):
    user = ann["user"]["id"]
    titles = sorted(f"task {i:03}" for i in range(120))
    for title in titles:
        assert api("POST", f"/api/{user}/tasks", headers=ann["auth"], json={"title": title}).status_code == 201
    with tempfile.TemporaryDirectory() as work:
        out = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", readme_block("Reading a long list")],
            cwd=work, capture_output=True, text=True, timeout=120,
            env={**os.environ, "API": api.base, "USER_ID": user,
                 "AUTH": f"authorization: Bearer {ann['access_token']}"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:-1] == titles
