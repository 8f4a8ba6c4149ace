"""What `sam deploy` uploads, run: each function's arm64 `bootstrap` from `sam build`,
started under qemu's user-mode emulator the way Lambda starts it (the Runtime API
stand-in in tests/support), against a throwaway PostgreSQL. Each answers a real API
Gateway HTTP API event per route as the native build of the same source does, and
needs nothing newer than the glibc of `provided.al2023` (2.34).

Run by scripts/boot-arm64.sh (make test), after scripts/sam-build.sh.
"""

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from lambda_runtime import ROOT, Function, event  # noqa: E402

FUNCTIONS = {"docs": "DocsFunction", "auth": "AuthFunction", "tasks": "TasksFunction",
             "task": "TaskFunction", "complete": "CompleteFunction"}
QEMU = ["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu"]
AL2023_GLIBC = (2, 34)
EM_AARCH64 = 0xB7


def bootstrap(name: str) -> Path:
    return ROOT / ".aws-sam/build" / FUNCTIONS[name] / "bootstrap"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_bootstrap_is_an_arm64_executable_for_al2023_glibc(name):
    path = bootstrap(name)
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and header[4] == 2, "a 64-bit ELF"
    assert int.from_bytes(header[18:20], "little") == EM_AARCH64, "built for aarch64"
    assert os.access(path, os.X_OK)
    # The versions of glibc's symbols it links against (readelf reads any ELF machine).
    needs = subprocess.run(["readelf", "--version-info", "-W", str(path)],
                           capture_output=True, text=True, check=True).stdout
    versions = {tuple(int(part) for part in v.split("."))
                for v in re.findall(r"Name: GLIBC_(\d+(?:\.\d+)+)", needs)}
    assert versions, "links glibc dynamically, as provided.al2023 expects"
    assert max(versions) <= AL2023_GLIBC, f"needs GLIBC_{'.'.join(map(str, max(versions)))}"


def scenario(run):
    """One user's requests through every function, each function started once (a cold
    start, then warm invocations). `run(name)` starts the function called `name`.
    Returns what each request got, in order."""
    name = "boot" + uuid.uuid4().hex[:10]
    answers = []

    def send(fn, method, path, body=None, headers=None, query=""):
        _, response = fn.call(event(method, path, body, headers, query))
        answers.append((f"{fn.name} {method} {path}", response))
        return response

    def body(response):
        return json.loads(response["body"])

    with run("docs") as docs:
        send(docs, "GET", "/api/health")
        send(docs, "GET", "/openapi.json")
        send(docs, "GET", "/docs")
        send(docs, "GET", "/nowhere")
    with run("auth") as auth:
        account = {"username": name, "email": f"{name}@example.com",
                   "password": "s3cret-pass", "confirm_password": "s3cret-pass"}
        user = body(send(auth, "POST", "/api/auth/signup", account))["user"]["id"]
        send(auth, "POST", "/api/auth/signup", account)  # taken: 409
        token = body(send(auth, "POST", "/api/auth/login",
                          {"username": name, "password": "s3cret-pass"}))["access_token"]
        send(auth, "POST", "/api/auth/login", {"username": name, "password": "wrong-pass"})
    bearer = {"authorization": f"Bearer {token}"}
    tasks_path = f"/api/{user}/tasks"
    with run("tasks") as tasks:
        task = body(send(tasks, "POST", tasks_path, {"title": "boot", "description": "ü ✓"}, bearer))["id"]
        send(tasks, "POST", tasks_path, {"title": ""}, bearer)  # 400
        send(tasks, "GET", tasks_path, None, bearer, "page=1&page_size=5&sort_by=title")
        send(tasks, "GET", tasks_path)  # no token: 401
    task_path = f"{tasks_path}/{task}"
    with run("task") as one:
        etag = send(one, "GET", task_path, None, bearer)["headers"]["etag"]
        send(one, "GET", task_path, None, {**bearer, "if-none-match": etag})  # 304
        send(one, "PUT", task_path, {"title": "booted", "completed": False},
             {**bearer, "if-match": etag})
        send(one, "PUT", task_path, {"title": "stale", "completed": False},
             {**bearer, "if-match": etag})  # 412: the first PUT changed it
    with run("complete") as complete:
        send(complete, "PATCH", f"{task_path}/complete", None, bearer)
        send(complete, "PATCH", f"{tasks_path}/{uuid.uuid4()}/complete", None, bearer)  # 404
    return name, answers


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
EPOCH = re.compile(r'("(?:exp|iat|expires_at)": ?)\d+')


def normalized(name, answers):
    """The answers with what differs between two runs (ids, names, tokens, times)
    replaced by placeholders."""
    text = json.dumps(answers, sort_keys=True, ensure_ascii=False)
    for pattern, placeholder in ((JWT, "<jwt>"), (UUID, "<uuid>"), (TIME, "<time>")):
        text = pattern.sub(placeholder, text)
    text = EPOCH.sub(r"\1<epoch>", text)
    return json.loads(text.replace(name, "<name>"))


class Started:
    def __init__(self, name, binary, runner):
        env = {"DATABASE_URL": os.environ["DATABASE_URL"],
               "BETTER_AUTH_SECRET": os.environ["BETTER_AUTH_SECRET"], "BCRYPT_COST": "10"}
        self.function = Function(binary, env, runner=runner, start_timeout=60)
        self.function.name = name

    def __enter__(self):
        return self.function

    def __exit__(self, *_):
        self.function.stop()


def test_each_bootstrap_boots_and_answers_as_the_native_build_does():
    native_dir = Path(os.environ.get("NATIVE_BIN_DIR", ROOT / "target/debug"))
    native_name, native = scenario(lambda name: Started(name, native_dir / name, ()))
    arm_name, arm = scenario(lambda name: Started(name, bootstrap(name), QEMU))
    # Same requests, so the same answers, placeholders aside.
    assert [status(r) for _, r in arm] == [status(r) for _, r in native]
    assert [s for s, _ in native] and all(isinstance(r, dict) for _, r in arm)
    native, arm = normalized(native_name, native), normalized(arm_name, arm)
    for (label, want), (_, got) in zip(native, arm):
        assert got == want, label
    # And the answers are the right ones, not merely equal.
    assert [status(r) for _, r in arm] == [200, 200, 200, 404, 201, 409, 200, 401,
                                           201, 400, 200, 401, 200, 304, 200, 412, 200, 404]


def status(response):
    return response["statusCode"]
