"""A front end's view: clients generated from openapi.yaml, and a browser on another origin.

- TypeScript: openapi-typescript makes the types, openapi-fetch makes the calls
  (tests/clients/typescript, pinned by its package-lock.json, installed by
  scripts/setup.sh); `tsc --strict` compiles tests/clients/typescript/src/sequence.ts and
  the README's example (taken from README.md here, so the two cannot drift), then Node
  runs both against the API.
- Python: openapi-python-client generates a client with no warning at all, and
  tests/clients/python/sequence.py runs the same sequence through it.
- CORS: a page served on http://localhost:5173 (a front-end dev server's origin, one of
  those `make dev` allows) calls the API with `fetch` in headless Chromium: the
  preflights pass and the headers a front end reads are exposed to its script.
"""

import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
TS = ROOT / "tests" / "clients" / "typescript"
PY = ROOT / "tests" / "clients" / "python"
VENV_BIN = Path(sys.executable).parent


def run(cmd: list, cwd: Path, timeout: int = 300, **env) -> str:
    """Runs cmd; fails the test with its whole output when it exits non-zero."""
    full_env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **env}
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    output = proc.stdout + proc.stderr
    print(output)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{output}"
    return output


def readme_example() -> str:
    """The TypeScript block after the marker in README.md, exactly as written there."""
    readme = (ROOT / "README.md").read_text()
    marker = "<!-- front-end example: tests/e2e/test_clients.py runs this block verbatim -->"
    assert marker in readme, "README.md lost the front-end example's marker"
    found = re.search(r"```ts\n(.*?)```", readme[readme.index(marker):], re.S)
    assert found, "no ```ts block after the marker in README.md"
    return found.group(1)


def node_tool(name: str) -> Path:
    tool = TS / "node_modules" / ".bin" / name
    if not tool.exists():
        pytest.fail(f"{tool} is missing: scripts/setup.sh test runs npm ci in {TS}")
    return tool


def test_typescript_client_every_route(api):
    generated = TS / "generated"
    shutil.rmtree(generated, ignore_errors=True)
    shutil.rmtree(TS / "dist", ignore_errors=True)
    generated.mkdir()
    out = run([node_tool("openapi-typescript"), SPEC, "-o", generated / "api.d.ts"], TS)
    # Its banner and the one line saying what it wrote; a warning would be another line.
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 2 and lines[0].startswith("✨ openapi-typescript") and "→" in lines[1], out
    (generated / "readme-example.ts").write_text(readme_example())
    run([node_tool("tsc"), "--strict", "-p", TS], TS)
    run(["node", TS / "dist" / "src" / "sequence.js"], TS, API_URL=api.base)
    out = run(["node", TS / "dist" / "generated" / "readme-example.js"], TS, API_URL=api.base)
    assert re.fullmatch(r"201 /api/[0-9a-f-]{36}/tasks/[0-9a-f-]{36} Buy milk\n", out), out


def test_python_client_generates_without_warnings_and_runs_every_route(api, tmp_path):
    package = tmp_path / "todo_api_client"
    out = run([VENV_BIN / "openapi-python-client", "generate", "--path", SPEC, "--meta", "none",
               "--config", PY / "openapi-python-client.yaml", "--output-path", package], tmp_path)
    # It says "Warning(s) encountered while generating" and leaves out what it could not
    # read; anything but its one line of progress is such a warning.
    assert out.strip() == f"Generating {package}", f"openapi-python-client warned:\n{out}"
    for route in ["auth/signup", "auth/login", "auth/register", "auth/issue_token", "tasks/list_tasks",
                  "tasks/create_task", "tasks/get_task", "tasks/replace_task", "tasks/delete_task",
                  "tasks/complete_task", "service/health", "service/openapi_json", "service/openapi_yaml",
                  "service/swagger_ui"]:
        assert (package / "api" / f"{route}.py").exists(), f"no generated call for {route}"
    run([sys.executable, PY / "sequence.py"], tmp_path, API_URL=api.base, PYTHONPATH=str(tmp_path))


# Origins `make dev` allows by default (scripts/dev.sh, CORS_ALLOW_ORIGINS): the page is
# served on the first whose port is free (5173 unless a dev server holds it).
FRONT_END_ORIGINS = [("localhost", 5173), ("localhost", 3000)]


@pytest.fixture()
def front_end():
    """A tiny page on another origin than the API's: http://localhost:5173/."""
    page = b"<!doctype html><html><head><title>front end</title></head><body>front end</body></html>"

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    for host, port in FRONT_END_ORIGINS:
        try:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
            break
        except OSError:
            continue
    else:
        pytest.fail(f"ports {[p for _, p in FRONT_END_ORIGINS]} are all taken: the CORS check needs one")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{host}:{port}"
    server.shutdown()
    server.server_close()


# Runs in the page: a front end's calls with fetch, each with the headers that make the
# browser send a preflight (Authorization, Content-Type: application/json, If-Match,
# Idempotency-Key, x-request-id). Returns, per call, its status and what its script can
# read of each header (null when the browser hides it); a refused preflight makes fetch
# throw, and the error is returned.
BROWSER_CALLS = """
async ([base, name]) => {
  const seen = {};
  const read = (r, names) => Object.fromEntries(names.map((n) => [n, r.headers.get(n)]));
  try {
    const json = { "Content-Type": "application/json" };
    let r = await fetch(`${base}/api/auth/signup`, { method: "POST", headers: { ...json, "x-request-id": `cors-${name}` },
      body: JSON.stringify({ username: name, email: `${name}@example.com`, password: "s3cret-pass",
                             confirm_password: "s3cret-pass" }) });
    const session = await r.json();
    seen.signup = { status: r.status, headers: read(r, ["x-request-id"]) };
    const auth = { Authorization: `Bearer ${session.access_token}` };
    const tasks = `${base}/api/${session.user.id}/tasks`;
    for (const title of ["one", "two"]) {
      r = await fetch(tasks, { method: "POST", headers: { ...json, ...auth, "Idempotency-Key": `${name}-${title}` },
        body: JSON.stringify({ title }) });
      seen.create = { status: r.status, headers: read(r, ["Location", "ETag", "x-request-id"]) };
    }
    r = await fetch(`${base}${seen.create.headers.Location}`, { method: "PUT",
      headers: { ...json, ...auth, "If-Match": seen.create.headers.ETag },
      body: JSON.stringify({ title: "two", completed: true }) });
    seen.put = { status: r.status, headers: read(r, ["ETag"]) };
    r = await fetch(`${base}${seen.create.headers.Location}`, { headers: { ...auth, "If-None-Match": seen.put.headers.ETag } });
    seen.notModified = { status: r.status, headers: read(r, ["ETag"]) };
    r = await fetch(`${tasks}?page_size=1`, { headers: auth });
    seen.list = { status: r.status, headers: read(r, ["Link", "x-request-id"]) };
    r = await fetch(tasks);
    seen.unauthorized = { status: r.status, headers: read(r, ["WWW-Authenticate"]) };
    for (let i = 0; i < 11; i++) {
      r = await fetch(`${base}/api/auth/login`, { method: "POST", headers: json,
        body: JSON.stringify({ username: name, password: `wrong-${i}` }) });
    }
    seen.throttled = { status: r.status, headers: read(r, ["Retry-After", "x-request-id"]) };
  } catch (error) {
    seen.error = String(error);
  }
  return seen;
}
"""


def test_a_browser_page_on_another_origin_calls_the_api_and_reads_its_headers(api, page, front_end):
    page.goto(front_end + "/")
    assert page.evaluate("location.origin") == front_end
    name = "cors" + uuid.uuid4().hex[:12]
    seen = page.evaluate(BROWSER_CALLS, [api.base, name])
    assert "error" not in seen, f"a fetch from {front_end} failed (preflight refused?): {seen}"
    statuses = {call: seen[call]["status"] for call in seen}
    assert statuses == {"signup": 201, "create": 201, "put": 200, "notModified": 304, "list": 200,
                        "unauthorized": 401, "throttled": 429}, seen
    hidden = [f"{call}: {header}" for call, answer in seen.items()
              for header, value in answer["headers"].items() if value is None]
    assert not hidden, f"headers the page's script cannot read (not in Access-Control-Expose-Headers): {hidden}"
    assert seen["signup"]["headers"]["x-request-id"] == f"cors-{name}"
    assert seen["create"]["headers"]["Location"].startswith("/api/")
    assert 'rel="next"' in seen["list"]["headers"]["Link"]
    assert int(seen["throttled"]["headers"]["Retry-After"]) > 0
