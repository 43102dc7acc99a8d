"""The workspace API answered in front of FastAPI (`server._api_front`): every route of the workspace API's
table is answered there and by FastAPI alike, with the same answers (errors included), and without FastAPI."""
from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ARM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w1"


def _sample(path: str) -> str:
    """A concrete path for a route's template ("1" for each value, a valid asset version too)."""
    return re.sub(r"\{\w+\}", "1", path).replace("workspaces/1", "workspaces/w1")


@pytest.fixture
def guarded(tmp_path: Path):  # type: ignore[no-untyped-def]
    from azuremlcore.server import ServerConfig, create_app

    app = create_app(ServerConfig(data_dir=tmp_path, open_access=True))
    yield app
    app.state.close()


async def _call(app: Any, method: str, path: str, body: bytes = b"", query: str = "",
                content_type: str | None = "application/json") -> tuple[int, Any]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"content-length", str(len(body)).encode())]
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
               "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query.encode(),
               "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}, receive, send)
    data = b"".join(m.get("body", b"") for m in sent[1:])
    try:
        return sent[0]["status"], json.loads(data) if data else None
    except ValueError:
        return sent[0]["status"], data


def test_the_front_and_fastapi_answer_the_same_routes(guarded) -> None:  # type: ignore[no-untyped-def]
    from fastapi.routing import APIRoute
    from starlette.routing import Match

    from azuremlcore.server._api_front import route_modules

    front = guarded.workspace_front
    app = guarded.deferred.built()
    modules = {module.__name__ for module in route_modules()}
    fastapi_routes = [(method, r.path, r.endpoint.__name__) for r in app.router.routes
                      if isinstance(r, APIRoute) and r.endpoint.__module__ in modules and r.path != "/health"
                      for method in r.methods]
    front.load()
    front_routes = [(r.method, r.path, r.endpoint.__name__) for r in front._routes]
    assert sorted(fastapi_routes) == sorted(front_routes)
    assert len(front_routes) >= 40  # workspaces, experiments, runs, metrics, assets, secrets, files, jobs
    for method, path, name in front_routes:
        # The front's match for a concrete path is the route FastAPI's router picks for it (first full match).
        found = front.match(method, _sample(path))
        assert found is not None and found[0].endpoint.__name__ == name, (method, path)
        scope = {"type": "http", "method": method, "path": _sample(path), "root_path": ""}
        picked = next(r for r in app.router.routes if r.matches(scope)[0] is Match.FULL)
        assert picked.endpoint.__name__ == name, (method, path, picked)


# Requests whose answers must not differ between the front and FastAPI: valid, and invalid in every part.
CASES: list[tuple[str, str, bytes, str, str | None]] = [
    ("GET", ARM, b"", "", None),
    ("GET", ARM + "/experiments", b"", "view_type=All", None),
    ("POST", ARM + "/experiments", b"", "", "application/json"),  # no body
    ("POST", ARM + "/experiments", b"{bad", "", "application/json"),  # not JSON
    ("POST", ARM + "/experiments", b'{"name": "e"}', "", "text/plain"),  # not declared JSON
    ("POST", ARM + "/experiments", b'{"name": "e"}', "", None),  # no content type
    ("POST", ARM + "/experiments", b'{"name": 5, "extra": 1}', "", "application/json"),
    ("POST", ARM + "/experiments", b'[1, 2]', "", "application/json"),
    ("POST", ARM + "/experiments", b'{"name": "e0"}', "", "application/vnd.x+json; charset=utf-8"),  # exists
    ("GET", ARM + "/runs", b"", "limit=0&statuses=Running&statuses=Failed", None),
    ("GET", ARM + "/runs", b"", "limit=x&include_children=maybe", None),
    ("GET", ARM + "/runs", b"", "experiment_ids=nope&include_children=false&limit=5", None),
    ("GET", ARM + "/runs/r1", b"", "", None),
    ("PATCH", ARM + "/assets/model/m/versions/0", b"{}", "", "application/json"),
    ("PATCH", ARM + "/assets/model/m/versions/x", b'{"spec": 1}', "", "application/json"),
    ("GET", ARM + "/assets/model/m", b"", "version=-1", None),
    ("GET", ARM + "/files", b"", "container=runs/r1", None),  # a required query value missing
    ("PUT", ARM + "/runs/r1/attributes/nope", b'{"values": {}}', "", "application/json"),
    ("POST", ARM + "/metrics", b'{"points": [["r1"]]}', "", "application/json"),
    ("POST", ARM + "/secrets/get", b'{"names": ["bad name!"]}', "", "application/json"),
    ("GET", "/api/v1/locate/nope/x", b"", "", None),
    ("GET", "/api/v1/workspaces", b"", "name=w1", None),
]


def test_the_front_answers_as_fastapi_does(guarded) -> None:  # type: ignore[no-untyped-def]
    front = guarded.workspace_front

    async def scenario() -> None:
        assert (await _call(guarded, "PUT", ARM, b"{}"))[0] == 200
        exp = (await _call(guarded, "POST", ARM + "/experiments", b'{"name": "e0"}'))[1]
        assert (await _call(guarded, "POST", ARM + "/runs", json.dumps({"id": "r1", "experiment_id": exp["id"]})
                            .encode()))[0] == 200
        for method, path, body, query, content_type in CASES:
            front.load()
            ours = await _call(guarded, method, path, body, query, content_type)
            routes, front._routes = front._routes, []  # everything to FastAPI
            try:
                theirs = await _call(guarded, method, path, body, query, content_type)
            finally:
                front._routes = routes
            assert ours == theirs, (method, path, body, query)

    asyncio.run(scenario())


def test_the_sdks_calls_need_no_fastapi(tmp_path: Path) -> None:
    # A real server and the SDK in one process: workspace, experiment, run, metrics and files calls, then
    # the modules loaded: FastAPI is not among them (it is built only for the web view, registry, issuer and
    # the document; `api_on_first_use` keeps a quiet moment from building it meanwhile).
    code = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from pathlib import Path
from conftest_server import LiveServer
server = LiveServer(Path({str(tmp_path / "server")!r}), api_on_first_use=True)
os.environ.update(AZUREMLCORE_ENDPOINT=server.url, AZUREMLCORE_TOKEN=server.token())
from azuremlcore import Experiment, Workspace
ws = Workspace.create("w1", subscription_id="s1", resource_group="rg", show_output=False)
run = Experiment(Workspace.get("w1", subscription_id="s1", resource_group="rg"), "e").start_logging()
run.log("m", 1.5)
run.upload_file("notes.txt", {str(Path(__file__))!r})
run.complete()
got = ws.get_run(run.id)
assert got.get_metrics() == {{"m": 1.5}} and "notes.txt" in got.get_file_names(), got.get_file_names()
print("fastapi" in sys.modules)
server.stop()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_the_front_runs_store_calls_in_worker_threads_when_asked(tmp_path: Path) -> None:
    from azuremlcore.server import ServerConfig, create_app

    guarded = create_app(ServerConfig(data_dir=tmp_path, open_access=True), threadpool=True)

    async def scenario() -> None:
        assert (await _call(guarded, "PUT", ARM, b"{}"))[0] == 200
        status, exps = await _call(guarded, "GET", ARM + "/experiments")
        assert status == 200 and exps == []
        assert (await _call(guarded, "GET", ARM + "/runs/nope"))[0] == 404

    asyncio.run(scenario())
    assert not guarded.deferred._started  # answered without FastAPI
    guarded.state.close()
