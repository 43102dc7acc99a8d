"""The metric-history answer: every value read back exactly (PostgreSQL writes the page's JSON itself, SQLite's
rows are written by orjson), pages chained by their tokens, and the next page read ahead only while it is still
the answer; on SQLite and, when $AZUREMLCORE_TEST_POSTGRES_URL names a database, PostgreSQL."""
from __future__ import annotations

import json
import math
import random
import struct
import time
import uuid

import pytest
import requests

from azuremlcore._store.records import MetricPoint, RunRecord, WorkspaceRecord
from azuremlcore._store.sql import SqlWorkspaceStore
from azuremlcore.server import _history_ahead
from azuremlcore.server._mlflow_common import metric_history_page
from conftest_server import LiveServer


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'w.db'}"
    return request.getfixturevalue("postgres_database")("history")


def _run(store: SqlWorkspaceStore) -> str:
    ws = store.create_workspace(WorkspaceRecord(id="", subscription_id="s", resource_group="g", name="w"))
    exp = store.create_experiment(ws.id, "e")
    rid = uuid.uuid4().hex
    store.create_run(RunRecord(id=rid, workspace_id=ws.id, experiment_id=exp.id, status="Running"))
    return rid


def _tricky_values() -> list[float]:
    rng = random.Random(17)
    doubles = [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(3000)]
    scaled = [rng.random() * 10.0 ** rng.randint(-30, 30) * rng.choice((1, -1)) for _ in range(3000)]
    edges = [0.0, -0.0, 5.0, -3.0, 1e14, 999999999999999.0, 1e15, 1e16, 123456789012345.0, 2.0 ** 53, 0.1, 1 / 3,
             0.1 + 0.2, 1e-5, 1.5e-7, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
             math.nan, math.inf, -math.inf]
    return [v for v in doubles if not math.isnan(v)] + scaled + edges


def _expected(v: float) -> float | str:
    return "NaN" if math.isnan(v) else "Infinity" if v == math.inf else "-Infinity" if v == -math.inf else v


def test_every_value_reads_back_exactly_and_float_typed_in_chained_pages(url: str) -> None:
    """Random doubles (subnormals and extremes included), integral values, -0.0, NaN and the infinities: each
    page's JSON parses to the values logged, as floats (5.0, not 5) or MLflow's strings, in logging order; the
    pages' tokens chain until the last page gives none; a key with a quote in its name is escaped."""
    store = SqlWorkspaceStore(url)
    try:
        rid = _run(store)
        values = _tricky_values()
        key = 'loss "val"/a.b'
        store.log_metrics([MetricPoint(rid, key, "scalar", v, None, i, 1_700_000_000_000 + i)
                           for i, v in enumerate(values)] + [MetricPoint(rid, key, "scalar", None, '"t"', 0, 1)])
        got, token, pages = [], None, 0
        while True:
            text, token = metric_history_page(store, rid, key, 1000, token)
            page = json.loads(text)
            pages += 1
            assert len(page["metrics"]) <= 1000 and page.get("next_page_token") == token
            got += page["metrics"]
            if token is None:
                break
        assert pages == math.ceil(len(values) / 1000)
        assert [m["key"] for m in got] == [key] * len(values)
        assert [(m["timestamp"], m["step"]) for m in got] == [(1_700_000_000_000 + i, i) for i in range(len(values))]
        for m, v in zip(got, values):
            want = _expected(v)
            assert type(m["value"]) is type(want), (m, v)
            # Bit for bit (SQLite keeps no sign on a zero it stores, so zeros compare by value).
            assert m["value"] == want if want == 0.0 or isinstance(want, str) else \
                struct.pack("<d", m["value"]) == struct.pack("<d", want), (m, v)
        assert metric_history_page(store, rid, "nope", None, None) == (b'{"metrics":[]}', None)
        assert metric_history_page(store, "no-such-run", key, None, None) == (b'{"metrics":[]}', None)
        # A full last page gives no token either.
        text, token = metric_history_page(store, rid, key, len(values), None)
        assert token is None and len(json.loads(text)["metrics"]) == len(values)
    finally:
        store.close()


def test_a_page_read_ahead_is_used_only_while_it_is_still_the_answer(url: str, monkeypatch) -> None:
    """The page after one with a token is built ahead; asked for, it is taken as built when nothing was stored
    since, and read again when a point of the key was stored meanwhile (the answer then holds it) or the run's
    points are gone."""
    store = SqlWorkspaceStore(url)
    reads: list[str | None] = []
    real = metric_history_page

    def counted(store_: object, run_id: str, key: str, max_results: int | None, token: str | None):  # type: ignore
        reads.append(token)
        return real(store_, run_id, key, max_results, token)

    monkeypatch.setattr(_history_ahead, "metric_history_page", counted)
    try:
        rid = _run(store)
        store.log_metrics([MetricPoint(rid, "m", "scalar", float(i), None, i, i) for i in range(10)])

        def page(token: str | None) -> tuple[list[float], str | None]:
            body = json.loads(_history_ahead.history_answer(store, "ws", rid, "m", 4, token))
            return [m["value"] for m in body["metrics"]], body.get("next_page_token")

        values, t1 = page(None)
        assert values == [0.0, 1.0, 2.0, 3.0] and t1
        _wait_built(store, rid, t1)
        values, t2 = page(t1)  # taken as built: no second read of this page
        assert values == [4.0, 5.0, 6.0, 7.0] and t2 and reads.count(t1) == 1
        _wait_built(store, rid, t2)
        store.log_metrics([MetricPoint(rid, "m", "scalar", 10.0, None, 10, 10)])  # after the read-ahead was built
        values, t3 = page(t2)
        assert values == [8.0, 9.0, 10.0] and t3 is None and reads.count(t2) == 2
        # Read again from the start: the run's points gone after the second page was built ahead.
        _, t1 = page(None)
        _wait_built(store, rid, t1)
        with store._write() as conn:
            conn.exec_driver_sql("DELETE FROM metrics")
        assert page(t1) == ([], None)
        # Closing a server forgets its pages read ahead (none is built from a closed store).
        store.log_metrics([MetricPoint(rid, "m", "scalar", float(i), None, i, i) for i in range(10)])
        assert page(None)[1] is not None
        _history_ahead.forget(store)
        assert not [k for k in _history_ahead._pending if k[0] == id(store)]
    finally:
        store.close()


def _wait_built(store: SqlWorkspaceStore, rid: str, token: str) -> None:
    deadline = time.monotonic() + 30
    entry = _history_ahead._pending[(id(store), "ws", rid, "m", 4, token)]
    while not entry[2].done():
        assert time.monotonic() < deadline, "the read-ahead did not finish"
        time.sleep(0.01)


def test_the_server_pages_a_history_with_read_ahead_and_sees_points_logged_between_pages(tmp_path) -> None:
    """Through HTTP (the fast path): MLflow's pages of a history, a point logged through the REST API between two
    pages is in the last page, and another workspace's caller gets an empty history of the run, as before."""
    server = LiveServer(tmp_path / "srv")
    try:
        h = {"Authorization": f"Bearer {server.token()}"}
        ws = f"{server.url}/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces"
        for name in ("one", "two"):
            requests.put(f"{ws}/{name}", json={"exist_ok": True}, headers=h).raise_for_status()
        api = f"{ws}/one/api/2.0/mlflow"
        exp = requests.post(f"{api}/experiments/create", json={"name": "e"}, headers=h).json()["experiment_id"]
        run = requests.post(f"{api}/runs/create", json={"experiment_id": exp}, headers=h).json()
        rid = run["run"]["info"]["run_id"]
        metrics = [{"key": "m", "value": i / 7, "timestamp": 1000 + i, "step": i} for i in range(2500)]
        for first in range(0, 2500, 1000):
            requests.post(f"{api}/runs/log-batch", json={"run_id": rid, "metrics": metrics[first:first + 1000]},
                          headers=h).raise_for_status()
        got, token, pages = [], None, 0
        while True:
            params = {"run_id": rid, "metric_key": "m", "max_results": 1000, **({"page_token": token} if token else {})}
            body = requests.get(f"{api}/metrics/get-history", params=params, headers=h).json()
            got += body["metrics"]
            token, pages = body.get("next_page_token"), pages + 1
            if pages == 2:
                requests.post(f"{api}/runs/log-metric", json={"run_id": rid, "key": "m", "value": 9.5,
                                                               "timestamp": 9999, "step": 9999}, headers=h
                              ).raise_for_status()
            if not token:
                break
        assert pages == 3
        assert got == [{**m, "key": "m"} for m in metrics] + [{"key": "m", "value": 9.5, "timestamp": 9999,
                                                                "step": 9999}]
        other = requests.get(f"{ws}/two/api/2.0/mlflow/metrics/get-history", params={"run_id": rid, "metric_key": "m"},
                             headers=h)
        assert other.status_code == 200 and other.json() == {"metrics": []}
    finally:
        server.stop()
