"""Server workspaces: MLflow's REST client with a fresh bearer token per request (tokens expire mid-run)."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

mlflow = pytest.importorskip("mlflow")

from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

from azuremlcore import Experiment, Workspace  # noqa: E402

# Short enough that a run outlives several tokens; long enough that the half-life margin (0.5 s) covers a
# request's trip on a loaded machine (0.4 s left 0.2 s, and a loaded CI machine sometimes took longer).
TOKEN_LIFE_S = 1.0


class TokenIssuer:
    """Issues short-lived tokens (the test's stand-in for Azure AD) and tells whether one is still valid."""

    def __init__(self) -> None:
        self.issued: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self) -> tuple[str, float]:
        with self._lock:
            token = f"tok-{len(self.issued)}"
            expires = time.time() + TOKEN_LIFE_S
            self.issued[token] = expires
            return token, expires

    def valid(self, token: str) -> bool:
        with self._lock:
            return token in self.issued and time.time() < self.issued[token]


class FakeWorkspaceServer:
    """A tiny MLflow REST endpoint (runs/log-metric, log-batch) over an embedded workspace, checking tokens."""

    def __init__(self, ws: Workspace, issuer: TokenIssuer) -> None:
        from azuremlmlflow.plugins import AzureMLTrackingStore

        self.store = AzureMLTrackingStore(ws.get_mlflow_tracking_uri())
        self.issuer, self.rejected, self.accepted = issuer, 0, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                from mlflow.entities import Metric

                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if not server.issuer.valid(token):
                    server.rejected += 1
                    return self._reply(401, {"error_code": "UNAUTHENTICATED", "message": "token expired"})
                server.accepted += 1
                if self.path.endswith("/api/2.0/mlflow/runs/log-metric"):
                    server.store.log_metric(body["run_id"], Metric(body["key"], float(body["value"]),
                                                                   int(body["timestamp"]), int(body.get("step", 0))))
                    return self._reply(200, {})
                return self._reply(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": self.path})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_ws(workspace: Workspace) -> Iterator[tuple[Workspace, FakeWorkspaceServer, TokenIssuer]]:
    """The test workspace served by a fake server; a second Workspace object that talks to it with tokens."""
    issuer = TokenIssuer()
    server = FakeWorkspaceServer(workspace, issuer)
    remote = Workspace._from_record(workspace._store, workspace._artifacts, workspace._record, auth=issuer,
                                    endpoint=server.url)
    yield remote, server, issuer
    server.close()
    mlflow.set_tracking_uri(None)
    from azuremlmlflow import register_token_provider

    register_token_provider(server.url, None)


def test_every_request_gets_an_unexpired_token(server_ws: tuple) -> None:
    from azuremlmlflow.plugins import AzureMLRequestHeaderProvider

    remote, _server, issuer = server_ws
    mlflow.set_tracking_uri(remote.get_mlflow_tracking_uri())
    provider = AzureMLRequestHeaderProvider()
    assert provider.in_context()
    seen = set()
    deadline = time.time() + 3 * TOKEN_LIFE_S
    while time.time() < deadline:
        token = provider.request_headers()["Authorization"].removeprefix("Bearer ")
        assert issuer.valid(token)
        seen.add(token)
        time.sleep(0.02)
    assert len(seen) >= 3  # refreshed before each expiry, not fetched per call
    mlflow.set_tracking_uri(None)
    assert not provider.in_context()  # no tokens for other tracking servers


def test_token_expiry_during_a_long_run_loses_no_metric(server_ws: tuple, workspace: Workspace) -> None:
    remote, server, issuer = server_ws
    run = Experiment(workspace, "long").start_logging()
    uri = remote.get_mlflow_tracking_uri()
    assert uri.startswith("azureml://127.0.0.1:") and uri.endswith("?scheme=http")
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    n = 30
    for i in range(n):
        client.log_metric(run.id, "loss", 1.0 / (i + 1), step=i)
        time.sleep(0.1)  # the run outlives several tokens
    assert server.rejected == 0 and server.accepted == n
    assert len(issuer.issued) >= 3
    assert run.get_metrics()["loss"] == [1.0 / (i + 1) for i in range(n)]


def test_unreachable_server_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from azuremlmlflow import _server, _uri

    monkeypatch.setattr(_server, "_WAIT_S", 0.5)  # what is waited out before saying so (6 s by default)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = _uri.build("s", "r", "w", endpoint=f"http://127.0.0.1:{port}")
    with pytest.raises(MlflowException, match="not reachable"):
        MlflowClient(tracking_uri=uri).get_experiment("0")


def _listen_later(port: int, after_s: float, stop: threading.Event) -> threading.Thread:
    """A socket listening on port from after_s seconds on, until stop is set (a server coming back)."""
    def serve() -> None:
        time.sleep(after_s)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen()
            stop.wait(10)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_server_restarting_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing listening for a moment (a restart) is waited out before saying so."""
    from azuremlmlflow import _server

    monkeypatch.setattr(_server, "_WAIT_S", 5.0)
    monkeypatch.delenv("AZUREML_RUN_ID", raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stop = threading.Event()
    _listen_later(port, 0.8, stop)
    try:
        t0 = time.monotonic()
        _server.check_reachable(f"http://127.0.0.1:{port}")
        assert time.monotonic() - t0 >= 0.7
    finally:
        stop.set()


def test_inside_a_job_a_server_outage_does_not_fail_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a submitted run the endpoint is the job's own and the spool carries metrics through an outage:
    no probe stands between the script's first MLflow call and the spool."""
    from azuremlmlflow import _server

    monkeypatch.setattr(_server, "_WAIT_S", 0.2)
    monkeypatch.setenv("AZUREML_RUN_ID", "job_1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _server.check_reachable(f"http://127.0.0.1:{port}")  # nothing listens: no error


def test_run_token_env_is_used_without_registered_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    from azuremlmlflow import _auth

    monkeypatch.setenv("AZUREML_RUN_TOKEN", "run-token")
    assert _auth.token_for("http://nowhere.invalid:1") == "run-token"
    calls = []
    _auth.register_token_provider("http://nowhere.invalid:1", lambda: calls.append(1) or "fresh")
    try:
        assert _auth.token_for("http://nowhere.invalid:1/") == "fresh"
        assert _auth.token_for("http://nowhere.invalid:1") == "fresh"
        assert len(calls) == 2  # a token of unknown expiry is fetched for every request
    finally:
        _auth.register_token_provider("http://nowhere.invalid:1", None)
