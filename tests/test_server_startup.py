"""Server start-up: /health, the MLflow tracking API and the workspace API answer before the FastAPI part is
built; requests for that part wait for its build (never skip it); `aml server` comes up and answers every kind
of call."""
from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
import time
from typing import Any

import requests

from conftest_server import free_port, live_server, wait_for_health  # noqa: F401 - fixture

ARM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w1"


def test_create_app_does_not_build_the_fastapi_part(tmp_path):
    code = ("import sys\nfrom pathlib import Path\nfrom azuremlcore.server import ServerConfig, create_app\n"
            f"create_app(ServerConfig(data_dir=Path({str(tmp_path)!r})))\n"
            "print(sorted(m for m in ('fastapi', 'alembic', 'jinja2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_create_app_leaves_no_validator_to_build_for_the_first_mlflow_request(tmp_path):
    # A model built at first use makes that request wait for it, and the first one built in a process waits for
    # pydantic's scan of every installed distribution's entry points (40-50 ms here); the workspace API's
    # models load with its front's routes (at the first quiet moment or call), not before the server listens.
    code = ("import sys\nfrom pathlib import Path\nfrom azuremlcore.server import ServerConfig, create_app\n"
            f"create_app(ServerConfig(data_dir=Path({str(tmp_path)!r})))\n"
            "from azuremlcore.server.mlflow_models import REQUESTS\nfrom pydantic.plugin import _loader\n"
            "print(all(m.__pydantic_complete__ for m in REQUESTS.values()), _loader._plugins is not None,\n"
            "      'azuremlcore.server.models' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "False"]


async def _call(app, method: str, path: str, headers: list | None = None) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
               "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
               "headers": headers or [], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_requests_for_fastapi_wait_for_its_build_and_the_workspace_api_does_not(tmp_path):
    from azuremlcore.server import ServerConfig, create_app

    guarded = create_app(ServerConfig(data_dir=tmp_path))
    deferred = guarded.deferred
    release = threading.Event()
    real_build = deferred._build

    def slow_build():  # type: ignore[no-untyped-def]
        release.wait(30)
        return real_build()

    deferred._build = slow_build
    token = guarded.state.identity.create_user_token("u")
    guarded.state.identity.grant("user:u", "/", "Owner")
    auth = [(b"authorization", f"Bearer {token}".encode())]

    async def scenario() -> None:
        assert await _call(guarded, "GET", "/health") == (200, b'{"status":"ok"}')
        waiting = asyncio.ensure_future(_call(guarded, "GET", "/openapi.json", auth))
        unauthenticated = await _call(guarded, "GET", "/api/v1/workspaces")  # the guard still answers first
        assert unauthenticated[0] == 401
        # The workspace API is answered in front of FastAPI while its build waits.
        assert await _call(guarded, "GET", "/api/v1/workspaces", auth) == (200, b"[]")
        await asyncio.sleep(0.2)
        assert not waiting.done()  # what only FastAPI answers is not answered until it is built
        assert await _call(guarded, "GET", "/health") == (200, b'{"status":"ok"}')
        release.set()
        status, body = await asyncio.wait_for(waiting, 60)
        assert status == 200 and b'"openapi"' in body

    asyncio.run(scenario())
    guarded.state.close()


def test_a_failed_build_answers_500_and_health_still_answers(tmp_path, caplog):
    from azuremlcore.server import ServerConfig, create_app

    guarded = create_app(ServerConfig(data_dir=tmp_path, open_access=True))

    def broken():  # type: ignore[no-untyped-def]
        raise RuntimeError("no routes today")

    guarded.deferred._build = broken

    async def scenario() -> None:
        status, body = await _call(guarded, "GET", "/openapi.json")
        assert status == 500 and b"could not build its API; see the server log" in body
        assert await _call(guarded, "GET", "/api/v1/workspaces") == (200, b"[]")  # answered without it
        assert await _call(guarded, "GET", "/health") == (200, b'{"status":"ok"}')

    asyncio.run(scenario())
    assert "Building the server's API failed" in caplog.text
    guarded.state.close()


def test_settle_turns_collection_back_on_over_new_objects_only():
    from azuremlcore.server import _settle

    was = gc.isenabled()
    gc.disable()
    try:
        _settle()
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        (gc.enable if was else gc.disable)()


def test_openapi_document_keeps_every_route_group(live_server):  # noqa: F811
    token = live_server.token()
    doc = requests.get(f"{live_server.url}/openapi.json", headers={"Authorization": f"Bearer {token}"}).json()
    paths = doc["paths"]
    assert "/health" in paths and "/oidc/oauth2/v2.0/token" in paths
    assert any(p.startswith("/ui/api/") for p in paths) and "/login" not in paths  # the web view's data, not pages
    assert paths["/api/v1/workspaces"]["get"]["tags"] == ["workspaces"]
    assert any("/api/2.0/mlflow/runs/log-metric" in p for p in paths)


def test_aml_server_answers_health_the_sdk_and_mlflow_right_after_start(tmp_path):
    data = tmp_path / "server"
    aml = [sys.executable, "-m", "azuremlcore._cli.main"]
    token = subprocess.check_output(aml + ["token", "create", "--data-dir", str(data), "--user", "u", "--role", "Owner"],
                                    text=True, cwd=tmp_path).strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(aml + ["server", "--data-dir", str(data), "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        session = requests.Session()
        wait_for_health(session, base, proc)
        session.headers["Authorization"] = f"Bearer {token}"
        # At once, while the workspace API may still be building: each call is answered, and in full.
        mlflow = session.post(f"{base}{ARM}/api/2.0/mlflow/experiments/create", json={"name": "e"}, timeout=60)
        assert mlflow.status_code == 404 and mlflow.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert session.put(f"{base}{ARM}", json={}, timeout=60).json()["name"] == "w1"
        assert session.get(f"{base}{ARM}", timeout=60).json()["name"] == "w1"
        assert session.post(f"{base}{ARM}/api/2.0/mlflow/experiments/create", json={"name": "e"},
                            timeout=60).status_code == 200
        assert [e["name"] for e in session.get(f"{base}{ARM}/experiments", timeout=60).json()] == ["e"]
        assert session.get(f"{base}{ARM}/nothing-here", timeout=60).status_code == 404
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "Building the server's API failed" not in err and "Traceback" not in err
    assert proc.returncode in (0, -15)


def test_the_build_thread_ends(live_server):  # noqa: F811
    live_server.app.deferred.built(timeout=60)
    deadline = time.monotonic() + 10
    while any(t.name == "aml-server-build" for t in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert requests.get(live_server.url + "/health").status_code == 200


def test_api_on_first_use_builds_nothing_until_asked(tmp_path):
    from azuremlcore.server import ServerConfig, create_app

    guarded = create_app(ServerConfig(data_dir=tmp_path, open_access=True, api_on_first_use=True))

    async def scenario() -> None:
        inbox: asyncio.Queue = asyncio.Queue()
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        await inbox.put({"type": "lifespan.startup"})
        lifespan = asyncio.ensure_future(guarded({"type": "lifespan"}, inbox.get, send))
        await asyncio.sleep(0.3)
        assert sent == [{"type": "lifespan.startup.complete"}]
        assert not guarded.deferred._started  # started and answering, nothing built
        assert await _call(guarded, "GET", "/health") == (200, b'{"status":"ok"}')
        assert not guarded.deferred._started
        assert await _call(guarded, "GET", "/api/v1/workspaces") == (200, b"[]")
        assert not guarded.deferred._started  # the workspace API needs no FastAPI
        assert (await _call(guarded, "GET", "/openapi.json"))[0] == 200
        assert guarded.deferred._started
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(lifespan, 30)
        assert sent[-1] == {"type": "lifespan.shutdown.complete"}

    asyncio.run(scenario())


async def _lifespan_started(app: Any) -> tuple[asyncio.Queue, asyncio.Future]:
    """Start app's lifespan as uvicorn does; returns its inbox (put `lifespan.shutdown` to end) and its task."""
    inbox: asyncio.Queue = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})

    async def send(_: dict) -> None:
        return None

    return inbox, asyncio.ensure_future(app({"type": "lifespan"}, inbox.get, send))


def test_the_build_waits_for_a_quiet_moment(tmp_path, monkeypatch):
    # The build thread would hold the GIL while MLflow calls are answered: it starts once they pause.
    from azuremlcore.server import ServerConfig, _deferred_app, create_app

    monkeypatch.setattr(_deferred_app, "QUIET_S", 0.1)
    guarded = create_app(ServerConfig(data_dir=tmp_path, open_access=True, api_on_first_use=False))

    async def scenario() -> None:
        inbox, lifespan = await _lifespan_started(guarded)
        for _ in range(15):  # 0.75 s of traffic, never 0.1 s quiet
            assert (await _call(guarded, "GET", "/health"))[0] == 200
            await asyncio.sleep(0.05)
            assert not guarded.deferred._started and guarded.workspace_front._routes is None
        await asyncio.sleep(0.5)
        # First the workspace API's routes (on the loop), then at the next quiet moment the build.
        assert guarded.workspace_front._routes and guarded.deferred._started
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(lifespan, 30)

    asyncio.run(scenario())
    guarded.deferred.built(timeout=60)


_GC_PROBE = """
import gc, os, sys, threading, time, urllib.request
from azuremlcore.server import ServerConfig, serve

def probe():
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[2]}/health", timeout=5)
            break
        except OSError:
            time.sleep(0.02)
    print(gc.isenabled(), gc.get_freeze_count() > 0, flush=True)
    os._exit(0)

threading.Thread(target=probe, daemon=True).start()
serve(ServerConfig(data_dir=sys.argv[1], api_on_first_use=True), port=int(sys.argv[2]))
"""


def test_collection_is_on_once_the_server_listens_even_if_the_api_is_never_built(tmp_path):
    # With --api-on-first-use (or MLflow traffic that never pauses) the build may never come: the collector,
    # off while start-up makes its objects, must not wait for it.
    out = subprocess.run([sys.executable, "-c", _GC_PROBE, str(tmp_path / "server"), str(free_port())],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.stdout.split() == ["True", "True"], out.stderr


def test_by_default_a_quiet_moment_loads_the_workspace_api_and_builds_nothing(tmp_path, monkeypatch):
    from azuremlcore.server import ServerConfig, _deferred_app, create_app

    monkeypatch.setattr(_deferred_app, "QUIET_S", 0.05)
    monkeypatch.setattr(_deferred_app, "FIRST_REQUEST_WAIT_S", 0.05)
    guarded = create_app(ServerConfig(data_dir=tmp_path, open_access=True))

    async def scenario() -> None:
        inbox, lifespan = await _lifespan_started(guarded)
        await asyncio.sleep(0.6)
        assert guarded.workspace_front._routes and not guarded.deferred._started
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(lifespan, 30)

    asyncio.run(scenario())
    guarded.state.close()
