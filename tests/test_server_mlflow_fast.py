"""The server's MLflow hot paths (plain log-metric/log-batch, history, latest metrics in searches) keep
MLflow's semantics, anything unusual takes MLflow's own path, and an idle server has not loaded MLflow."""
from __future__ import annotations

import math
import subprocess
import sys

import pytest
import requests

from conftest_server import live_server  # noqa: F401 - fixture

mlflow = pytest.importorskip("mlflow")

ARM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces"


@pytest.fixture
def api(live_server):  # type: ignore[no-untyped-def]
    """(call(method, path, **kw) -> response, MlflowClient) for workspace w1 of a live server."""
    from mlflow import MlflowClient

    token = live_server.token()
    auth = {"Authorization": f"Bearer {token}"}
    for ws in ("w1", "w2"):
        requests.put(f"{live_server.url}{ARM}/{ws}", json={}, headers=auth).raise_for_status()
    base = f"{live_server.url}{ARM}/w1"

    def call(method: str, path: str, ws: str = "w1", **kw):  # type: ignore[no-untyped-def]
        return requests.request(method, f"{live_server.url}{ARM}/{ws}/api/2.0/mlflow{path}", headers=auth, **kw)

    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_TOKEN", token)
    mp.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    yield call, MlflowClient(tracking_uri=base)
    mp.undo()


def test_idle_server_has_not_loaded_mlflow(tmp_path):
    code = ("import sys\nfrom pathlib import Path\nfrom azuremlcore.server import ServerConfig, create_app\n"
            f"create_app(ServerConfig(data_dir=Path({str(tmp_path)!r})))\n"
            "print(sorted(m for m in ('mlflow', 'pandas', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_plain_points_round_trip_with_special_values(api):
    call, client = api
    run_id = client.create_run(client.create_experiment("special")).info.run_id
    for value, step in ((1.5, 0), ("NaN", 1), ("Infinity", 2), ("-Infinity", 3), (7, 4)):
        r = call("POST", "/runs/log-metric", json={"run_id": run_id, "key": "v", "value": value,
                                                   "timestamp": 10 + step, "step": step})
        assert r.status_code == 200 and r.json() == {}
    hist = client.get_metric_history(run_id, "v")
    assert [m.step for m in hist] == [0, 1, 2, 3, 4] and hist[0].value == 1.5 and math.isnan(hist[1].value)
    assert (hist[2].value, hist[3].value, hist[4].value) == (math.inf, -math.inf, 7.0)
    assert client.get_run(run_id).data.metrics == {"v": 7.0}
    # A retried call stores nothing new; the same step with another value is a new point.
    call("POST", "/runs/log-metric", json={"run_id": run_id, "key": "v", "value": 7, "timestamp": 14, "step": 4})
    call("POST", "/runs/log-metric", json={"run_id": run_id, "key": "v", "value": 8, "timestamp": 14, "step": 4})
    assert [m.value for m in client.get_metric_history(run_id, "v")][4:] == [7.0, 8.0]
    assert client.get_run(run_id).data.metrics == {"v": 8.0}


def test_unusual_requests_get_mlflows_own_answers(api):
    call, client = api
    exp = client.create_experiment("odd")
    run_id = client.create_run(exp).info.run_id
    for bad in ({"run_id": run_id, "key": "../up", "value": 1.0, "timestamp": 1},          # a path trick
                {"run_id": run_id, "key": "ok", "value": "abc", "timestamp": 1},           # not a number
                {"run_id": run_id, "key": "k" * 251, "value": 1.0, "timestamp": 1}):
        r = call("POST", "/runs/log-metric", json=bad)
        assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", (bad, r.text)
    r = call("POST", "/runs/log-batch", json={"run_id": run_id, "metrics": [
        {"key": "b", "value": float(i), "timestamp": i, "step": i} for i in range(1001)]})
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    r = call("POST", "/runs/log-batch", json={"run_id": run_id, "params": [{"key": "p", "value": "1"}],
                                              "metrics": [{"key": "b", "value": 2.0, "timestamp": 5}]})
    assert r.status_code == 200
    got = client.get_run(run_id)
    assert got.data.params == {"p": "1"} and got.data.metrics == {"b": 2.0}
    assert [m.key for m in client.get_metric_history(run_id, "ok")] == []
    # Runs of another workspace and deleted runs are refused; nothing is stored.
    r = call("POST", "/runs/log-metric", ws="w2", json={"run_id": run_id, "key": "x", "value": 1.0, "timestamp": 1})
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    client.delete_run(run_id)
    r = call("POST", "/runs/log-batch", json={"run_id": run_id, "metrics": [{"key": "x", "value": 1.0,
                                                                              "timestamp": 1}]})
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "active" in r.json()["message"]
    client.restore_run(run_id)
    assert client.get_metric_history(run_id, "x") == []
    # As MLflow's server: the history of a run it does not know (here: of another workspace) is empty.
    r = call("GET", "/metrics/get-history", ws="w2", params={"run_id": run_id, "metric_key": "b"})
    assert r.status_code == 200 and r.json().get("metrics", []) == []


def test_history_pages_by_token(api):
    call, client = api
    run_id = client.create_run(client.create_experiment("pages")).info.run_id
    call("POST", "/runs/log-batch", json={"run_id": run_id, "metrics": [
        {"key": "h", "value": float(i), "timestamp": i, "step": i} for i in range(5)]})
    seen, token = [], None
    while True:
        params = {"run_id": run_id, "metric_key": "h", "max_results": 2, **({"page_token": token} if token else {})}
        body = call("GET", "/metrics/get-history", params=params).json()
        seen += [m["step"] for m in body["metrics"]]
        token = body.get("next_page_token")
        if not token:
            break
    assert seen == [0, 1, 2, 3, 4]


def test_search_filters_and_orders_by_latest_metrics(api):
    from mlflow.entities import Metric

    call, client = api
    exp = client.create_experiment("search")
    ids = []
    for i, final in enumerate((0.3, 0.9, 0.6)):
        run_id = client.create_run(exp).info.run_id
        # Early points are higher than the final one: only the latest (max step) may count.
        client.log_batch(run_id, metrics=[Metric("acc", 1.0, 1, 0), Metric("acc", final, 2, 5)])
        client.log_param(run_id, "i", str(i))
        ids.append(run_id)
    found = client.search_runs([exp], "metrics.acc > 0.5", order_by=["metrics.acc DESC"])
    assert [r.info.run_id for r in found] == [ids[1], ids[2]]
    assert [r.data.metrics["acc"] for r in found] == [0.9, 0.6]
    page = client.search_runs([exp], order_by=["params.i ASC"], max_results=2)
    rest = client.search_runs([exp], order_by=["params.i ASC"], max_results=2, page_token=page.token)
    assert [r.info.run_id for r in [*page, *rest]] == ids
