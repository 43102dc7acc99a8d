"""The backend fixture of the contract suite: every test runs on each workspace backend.

* embedded: the SDK's in-process SQLite store;
* server-sqlite: a real `aml server` (uvicorn, in a thread) on SQLite, reached over HTTP;
* server-postgres: the same on PostgreSQL, when $AZUREMLCORE_TEST_POSTGRES_URL names a database
  (`.ci/start-postgres.sh` starts one and prints its URL).
"""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest_server import LiveServer  # noqa: E402

BACKENDS = ["embedded", "server-sqlite", "server-postgres"]


@pytest.fixture(scope="session")
def _servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LiveServer]]:
    started: dict[str, LiveServer] = {}
    yield started
    for s in started.values():
        s.stop()


def _server(kind: str, servers: dict[str, LiveServer], tmp: pytest.TempPathFactory) -> LiveServer:
    if kind not in servers:
        db_url = None
        if kind == "server-postgres":
            db_url = os.environ.get("AZUREMLCORE_TEST_POSTGRES_URL")
            if not db_url:
                pytest.skip(reason="no PostgreSQL: set AZUREMLCORE_TEST_POSTGRES_URL (see .ci/start-postgres.sh)")
            if db_url.startswith("postgresql://"):
                db_url = "postgresql+psycopg://" + db_url[len("postgresql://"):]
        servers[kind] = LiveServer(tmp.mktemp(kind), db_url=db_url)
    return servers[kind]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, _servers: dict[str, LiveServer], tmp_path_factory: pytest.TempPathFactory,
            monkeypatch: pytest.MonkeyPatch, azuremlcore_home: Path, workdir: Path) -> str:
    """The backend name; on server backends, AZUREMLCORE_ENDPOINT/TOKEN point Workspace at the server."""
    kind = request.param
    if kind != "embedded":
        server = _server(kind, _servers, tmp_path_factory)
        monkeypatch.setenv("AZUREMLCORE_ENDPOINT", server.url)
        monkeypatch.setenv("AZUREMLCORE_TOKEN", server.token(f"u{uuid.uuid4().hex[:8]}"))
    else:
        monkeypatch.delenv("AZUREMLCORE_ENDPOINT", raising=False)
    return kind


@pytest.fixture
def ws(backend: str) -> Any:
    """A fresh workspace on the backend under test (unique name, so server tests never collide)."""
    from azuremlcore import Workspace

    return Workspace.create(name=f"ws{uuid.uuid4().hex[:10]}", subscription_id="sub-contract",
                            resource_group="rg", exist_ok=True, show_output=False)


@pytest.fixture
def exp(ws: Any) -> Any:
    """An experiment 'exp' in the test workspace."""
    from azuremlcore import Experiment

    return Experiment(ws, "exp")


@pytest.fixture
def server_of(_servers: dict[str, LiveServer]) -> Callable[[str], LiveServer]:
    """The running server of a server backend."""
    return lambda kind: _servers[kind]
