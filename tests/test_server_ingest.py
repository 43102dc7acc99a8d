"""The metric write-behind (server/_ingest.py): MLflow's log-metric and log-batch answered once validated and
journaled, stored right after; every other request sees them; a killed server loses nothing it acknowledged."""
from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from conftest_server import LiveServer, free_port

mlflow = pytest.importorskip("mlflow")

ARM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w1"
AML = [sys.executable, "-m", "azuremlcore._cli.main"]


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in the data dir) or a fresh PostgreSQL database (skips without one, except in CI)."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_database")("ingest")


@pytest.fixture
def mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


def _client(url: str, token: str, monkeypatch: pytest.MonkeyPatch, create: bool = True) -> Any:
    from mlflow import MlflowClient

    if create:
        requests.put(f"{url}{ARM}", json={}, headers={"Authorization": f"Bearer {token}"},
                     timeout=60).raise_for_status()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    return MlflowClient(tracking_uri=url + ARM)


@pytest.fixture
def server(tmp_path: Path, db_url: str | None) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "server", db_url=db_url)
    yield live
    live.stop()


def test_logged_points_are_seen_by_the_next_read(server: LiveServer, monkeypatch: pytest.MonkeyPatch,
                                                 mlflow_env: None) -> None:
    from mlflow.entities import Metric

    client = _client(server.url, server.token(), monkeypatch)
    exp = client.create_experiment("wb")
    run_id = client.create_run(exp).info.run_id
    ingest = server.state.ingest
    assert ingest is not None
    for i in range(50):
        client.log_metric(run_id, "m", float(i), 1000 + i, i)
        # Read at once, every few calls: each read sees every point acknowledged before it.
        if i % 10 == 9:
            assert [p.value for p in client.get_metric_history(run_id, "m")] == [float(k) for k in range(i + 1)]
    assert ingest.accepts(run_id)  # past the first call, the calls were answered from the journal
    for first in range(0, 3000, 1000):
        client.log_batch(run_id, metrics=[Metric("b", float(i), 5000 + i, i) for i in range(first, first + 1000)])
    assert client.get_run(run_id).data.metrics == {"m": 49.0, "b": 2999.0}
    assert len(client.get_metric_history(run_id, "b")) == 3000
    found = client.search_runs([exp], "metrics.b > 2000")
    assert [r.info.run_id for r in found] == [run_id]
    # Params and tags with metrics take the synchronous path, in order after what is pending.
    client.log_metric(run_id, "m", 50.0, 1050, 50)
    client.log_batch(run_id, metrics=[Metric("m", 51.0, 1051, 51)], params=[mlflow.entities.Param("p", "1")])
    assert [p.step for p in client.get_metric_history(run_id, "m")][-2:] == [50, 51]
    assert ingest.pending == 0 and server.state.ingest.path.stat().st_size == 0


def _answers(url: str, token: str, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """Status and MLflow error code of each call of a sequence that goes wrong in every way ingest can."""
    client = _client(url, token, monkeypatch)
    auth = {"Authorization": f"Bearer {token}"}
    exp = client.create_experiment("errors")
    run_id = client.create_run(exp).info.run_id
    api = f"{url}{ARM}/api/2.0/mlflow"

    def post(path: str, body: dict) -> tuple[int, str]:
        r = requests.post(api + path, json=body, headers=auth, timeout=60)
        return r.status_code, r.json().get("error_code", "")

    point = {"key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    out = [post("/runs/log-metric", {"run_id": run_id, **point}),  # synchronous: the run becomes known active
           post("/runs/log-metric", {"run_id": run_id, **point, "step": 1}),  # from the journal
           post("/runs/log-metric", {"run_id": "f" * 32, **point}),  # no such run
           post("/runs/log-metric", {"run_id": run_id, **point, "value": "one"}),  # not a number
           post("/runs/log-metric", {"run_id": run_id, **point, "key": "../up"}),  # a path trick
           post("/runs/log-batch", {"run_id": run_id, "metrics": [{**point, "timestamp": -1}]}),
           post("/runs/log-batch", {"run_id": run_id, "metrics": [point] * 1001})]  # over MLflow's limit
    client.delete_run(run_id)
    out += [post("/runs/log-metric", {"run_id": run_id, **point, "step": 2}),  # deleted: no longer active
            post("/runs/log-batch", {"run_id": run_id, "metrics": [{**point, "step": 3}]})]
    client.restore_run(run_id)
    out.append(post("/runs/log-metric", {"run_id": run_id, **point, "step": 4}))
    out.append((len(client.get_metric_history(run_id, "m")), ""))
    return out


def test_errors_are_answered_as_without_write_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     mlflow_env: None) -> None:
    answers = []
    for on in (True, False):
        live = LiveServer(tmp_path / f"server-{on}", write_behind=on)
        try:
            assert (live.state.ingest is not None) == on
            answers.append(_answers(live.url, live.token(), monkeypatch))
        finally:
            live.stop()
    assert answers[0] == answers[1]
    assert [a[0] for a in answers[0]] == [200, 200, 404, 400, 400, 400, 400, 400, 400, 200, 3]


_CHILD = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import uvicorn
    from azuremlcore.server import ServerConfig, create_app, _ingest

    data, port, db, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3] or None, sys.argv[4]
    if mode == "hold":  # acknowledged, never stored: a kill -9 always lands between answer and store
        _ingest.WriteBehind._drain_soon = lambda self: setattr(self, "_scheduled", False)
    elif mode == "keep-journal":  # stored, but the journal never emptied: replay must not store twice
        os.ftruncate = lambda fd, size: None
    uvicorn.run(create_app(ServerConfig(data_dir=Path(data), db_url=db)), host="127.0.0.1", port=port,
                log_level="warning", lifespan="on")
""")


class _Child:
    """A server process on a data dir (mode: normal, hold, keep-journal), killed with SIGKILL by kill()."""

    def __init__(self, data: Path, db_url: str | None, mode: str = "normal") -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(data), str(port), db_url or "", mode],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(self.url + "/health", timeout=5)
                return
            except requests.ConnectionError:
                assert self.proc.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> str:
        self.proc.terminate()
        return self.proc.communicate(timeout=30)[1]


@pytest.mark.parametrize("mode", ["hold", pytest.param("keep-journal", marks=pytest.mark.slow)])
def test_a_killed_server_stores_every_acknowledged_point_once(tmp_path: Path, db_url: str | None, mode: str,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              mlflow_env: None) -> None:
    from mlflow.entities import Metric

    data = tmp_path / "server"
    token = subprocess.check_output(AML + ["token", "create", "--data-dir", str(data), "--user", "u", "--role",
                                           "Owner"] + (["--db", db_url] if db_url else []), text=True).strip()
    child = _Child(data, db_url, mode)
    try:
        client = _client(child.url, token, monkeypatch)
        run_id = client.create_run(client.create_experiment("kill")).info.run_id
        for i in range(20):
            client.log_metric(run_id, "m", float(i), 100 + i, i)
        for first in range(0, 2000, 1000):
            client.log_batch(run_id, metrics=[Metric("b", float(i), 100 + i, i) for i in range(first, first + 1000)])
        assert (data / "ingest.journal").stat().st_size > 0
    finally:
        child.kill()
    child = _Child(data, db_url)  # replays the journal before it answers
    try:
        client = _client(child.url, token, monkeypatch, create=False)
        assert [p.step for p in client.get_metric_history(run_id, "m")] == list(range(20))
        assert [p.step for p in client.get_metric_history(run_id, "b")] == list(range(2000))
        assert client.get_run(run_id).data.metrics == {"m": 19.0, "b": 1999.0}
        assert (data / "ingest.journal").stat().st_size == 0
    finally:
        err = child.stop()
    assert "Traceback" not in err


@pytest.mark.slow
def test_kill_under_load_loses_no_acknowledged_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     mlflow_env: None) -> None:
    """`aml server` killed at a random moment while three clients log batches: after a restart each
    acknowledged point is stored exactly once (the batch in flight at the kill: whole or not at all)."""
    import random

    from mlflow.entities import Metric

    data = tmp_path / "server"
    token = subprocess.check_output(AML + ["token", "create", "--data-dir", str(data), "--user", "u", "--role",
                                           "Owner"], text=True).strip()
    child = _Child(data, None)
    client = _client(child.url, token, monkeypatch)
    runs = [client.create_run(client.create_experiment(f"load{i}")).info.run_id for i in range(3)]
    acked: dict[str, int] = {r: 0 for r in runs}
    stop = threading.Event()

    def log(run_id: str) -> None:
        from mlflow import MlflowClient

        own = MlflowClient(tracking_uri=child.url + ARM)
        n = 0
        while not stop.is_set():
            try:
                own.log_batch(run_id, metrics=[Metric("b", float(i), i, i) for i in range(n, n + 500)])
            except Exception:  # noqa: BLE001 - the server is gone: this batch was not acknowledged
                return
            n += 500
            acked[run_id] = n

    threads = [threading.Thread(target=log, args=(r,)) for r in runs]
    for t in threads:
        t.start()
    time.sleep(1.5 + random.random())
    child.kill()
    stop.set()
    for t in threads:
        t.join(60)
    assert all(acked.values())
    child = _Child(data, None)
    try:
        client = _client(child.url, token, monkeypatch, create=False)
        for run_id in runs:
            steps = [p.step for p in client.get_metric_history(run_id, "b")]
            assert len(steps) == len(set(steps)) and sorted(steps) == list(range(len(steps)))
            assert len(steps) in (acked[run_id], acked[run_id] + 500)
    finally:
        child.stop()


def test_a_second_server_on_the_same_data_dir_stores_before_answering(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "server")
    try:
        second = LiveServer(tmp_path / "server")  # the journal is the first one's: this one does without
        try:
            assert live.state.ingest is not None and second.state.ingest is None
        finally:
            second.stop()
    finally:
        live.stop()


def test_pending_points_stay_bounded_and_an_unfinished_entry_is_left_out(tmp_path: Path) -> None:
    from azuremlcore._store.records import RunRecord, WorkspaceRecord
    from azuremlcore._store.sql import SqlWorkspaceStore
    from azuremlcore.server import routes_mlflow
    from azuremlcore.server._ingest import WriteBehind

    store = SqlWorkspaceStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ws = store.create_workspace(WorkspaceRecord(id="w", subscription_id="s", resource_group="g", name="w"))
    exp = store.create_experiment(ws.id, "e")
    run = store.create_run(RunRecord(id="r1", workspace_id=ws.id, experiment_id=exp.id))
    wb = WriteBehind(store, tmp_path, routes_mlflow.DECODERS, max_pending_points=2500)

    def body(first: int) -> bytes:
        return ('{"run_id": "r1", "metrics": [' + ",".join(
            f'{{"key": "k", "value": {i}.5, "timestamp": {i}, "step": {i}}}' for i in range(first, first + 1000))
            + "]}").encode()

    async def submit_all() -> list[int]:
        seen = []
        for first in range(0, 5000, 1000):
            b = body(first)
            wb.submit(b"b", b, *routes_mlflow.log_batch_points(b))
            seen.append(wb.pending)
        seen.append(len(store.get_metrics([run.id])))
        return seen

    # No callback runs between the submissions: only the bound stores them (3,000 points), the rest at the end.
    assert asyncio.run(submit_all()) == [1, 2, 0, 1, 2, 3000]
    assert len(store.get_metrics([run.id])) == 5000
    wb.close()
    # Two entries journaled (never stored), then half of a third: replay stores the two whole ones.
    journal = tmp_path / "ingest.journal"
    whole = b"".join(b"b %d\n" % len(body(f)) + body(f) for f in (5000, 6000))
    journal.write_bytes(whole + (b"b %d\n" % len(body(7000)) + body(7000))[:500])
    wb = WriteBehind(store, tmp_path, routes_mlflow.DECODERS)
    assert wb.replay() == 2
    assert journal.stat().st_size == 0
    assert [p.step for p in store.get_metrics([run.id])] == list(range(7000))
    wb.close()
    store.close()


def test_drain_stores_many_runs_and_keeps_only_what_failed_pending(tmp_path: Path) -> None:
    """Entries of many runs drain in one pass; when the database fails on one run (an outage, not a store
    error), the runs stored before it leave the pending list and the rest stay, to be stored by the next drain."""
    from azuremlcore._store.records import RunRecord, WorkspaceRecord
    from azuremlcore._store.sql import SqlWorkspaceStore
    from azuremlcore.server import routes_mlflow
    from azuremlcore.server._ingest import WriteBehind

    store = SqlWorkspaceStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ws = store.create_workspace(WorkspaceRecord(id="w", subscription_id="s", resource_group="g", name="w"))
    exp = store.create_experiment(ws.id, "e")
    runs = [store.create_run(RunRecord(id=f"r{i}", workspace_id=ws.id, experiment_id=exp.id)).id for i in range(300)]
    real = store.log_metrics_unique
    outage = {"run": "r150"}

    def flaky(run_id: str, points: list, **kw: Any) -> int:  # the database going away mid-drain
        if run_id == outage["run"]:
            raise ConnectionError("database unreachable")
        return real(run_id, points, **kw)

    store.log_metrics_unique = flaky  # type: ignore[method-assign]
    wb = WriteBehind(store, tmp_path, routes_mlflow.DECODERS)

    async def submit_all() -> None:
        for n in range(2):
            for run_id in runs:
                b = f'{{"run_id": "{run_id}", "metrics": [{{"key": "k", "value": {n}, "timestamp": {n}, "step": {n}}}]}}'
                wb.submit(b"b", b.encode(), *routes_mlflow.log_batch_points(b.encode()))

    asyncio.run(submit_all())
    with pytest.raises(ConnectionError):
        wb.drain()
    assert wb.pending == 2 * 150  # r150..r299, two entries each
    assert (tmp_path / "ingest.journal").stat().st_size > 0
    outage["run"] = None
    wb.drain()
    assert wb.pending == 0 and (tmp_path / "ingest.journal").stat().st_size == 0
    assert all(len(store.get_metrics([r])) == 2 for r in runs)
    wb.close()
