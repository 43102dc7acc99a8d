"""The stock MLflow client, unchanged, against the server's per-workspace MLflow REST API."""
from __future__ import annotations

import math

import pytest
import requests

from conftest_server import live_server  # noqa: F401 - fixture

mlflow = pytest.importorskip("mlflow")

ARM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces"


@pytest.fixture
def tracking(live_server, monkeypatch):  # type: ignore[no-untyped-def]
    token = live_server.token()
    requests.put(f"{live_server.url}{ARM}/w1", json={}, headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    uri = f"{live_server.url}{ARM}/w1"
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


def test_seed_flow_search_and_history(tracking, live_server, tmp_path):
    from mlflow import MlflowClient

    mlflow.set_experiment("seed")
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.set_tag("team", "a")
        for i in range(5):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        mlflow.log_metrics({"acc": 0.9, "nan": float("nan")})
        (tmp_path / "notes.txt").write_text("hello")
        mlflow.log_artifact(str(tmp_path / "notes.txt"), artifact_path="docs")
    client = MlflowClient()
    got = client.get_run(run.info.run_id)
    assert got.data.params == {"alpha": "0.5"} and got.data.tags["team"] == "a"
    assert got.data.metrics["loss"] == 0.2 and math.isnan(got.data.metrics["nan"])
    assert got.info.status == "FINISHED" and got.info.run_name == "first"
    hist = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in hist] == [0, 1, 2, 3, 4] and hist[0].value == 1.0
    found = mlflow.search_runs(experiment_names=["seed"], filter_string="params.alpha = '0.5'", output_format="list")
    assert [r.info.run_id for r in found] == [run.info.run_id]
    assert mlflow.search_runs(experiment_names=["seed"], filter_string="metrics.acc > 0.95", output_format="list") == []
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["docs"]
    local = client.download_artifacts(run.info.run_id, "docs/notes.txt", str(tmp_path / "dl"))
    assert open(local).read() == "hello"
    # The same run, seen through the SDK's workspace API: one store, two views.
    ws_id = live_server.state.store.find_workspace("s1", "rg", "w1")[0].id
    assert live_server.state.artifacts.exists(f"{ws_id}/runs/{run.info.run_id}", "docs/notes.txt")
    assert live_server.state.store.get_run(run.info.run_id).params == {"alpha": "0.5"}


def test_errors_codes_and_param_write_once(tracking):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    assert client.get_experiment_by_name("nope") is None
    with pytest.raises(MlflowException) as err:
        client.get_run("does-not-exist")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    exp_id = client.create_experiment("e1")
    with pytest.raises(MlflowException) as err:
        client.create_experiment("e1")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
    run = client.create_run(exp_id)
    client.log_param(run.info.run_id, "p", "1")
    client.log_param(run.info.run_id, "p", "1")
    with pytest.raises(MlflowException) as err:
        client.log_param(run.info.run_id, "p", "2")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_retried_log_batch_stores_no_duplicate(tracking, live_server):
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient()
    run = client.create_run(client.create_experiment("retry"))
    batch = [Metric("m", float(i), 1000 + i, i) for i in range(100)]
    client.log_batch(run.info.run_id, metrics=batch)
    client.log_batch(run.info.run_id, metrics=batch)  # what a retry after a lost answer sends
    client.log_batch(run.info.run_id, metrics=[Metric("m", 5.0, 2000, 5)])  # a new point at an old step is kept
    hist = client.get_metric_history(run.info.run_id, "m")
    assert len(hist) == 101


def test_history_pages_and_ajax_twin(tracking, live_server):
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient()
    run = client.create_run(client.create_experiment("big"))
    for start in range(0, 30_000, 1000):
        client.log_batch(run.info.run_id, metrics=[Metric("x", float(i), i, i) for i in range(start, start + 1000)])
    hist = client.get_metric_history(run.info.run_id, "x")  # the client pages by 25,000
    assert len(hist) == 30_000 and hist[-1].value == 29_999.0
    token = live_server.token("reader", "Reader")
    r = requests.get(f"{tracking}/ajax-api/2.0/mlflow/runs/get", params={"run_id": run.info.run_id},
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["run"]["info"]["run_id"] == run.info.run_id
    r = requests.post(f"{tracking}/api/2.0/mlflow/runs/set-tag", headers={"Authorization": f"Bearer {token}"},
                      json={"run_id": run.info.run_id, "key": "k", "value": "v"})
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED"
    assert requests.get(f"{tracking}/api/2.0/mlflow/runs/get", params={"run_id": run.info.run_id}).status_code == 401


def test_log_model_and_load_model(tracking, tmp_path):
    sk = pytest.importorskip("sklearn.linear_model")
    np = pytest.importorskip("numpy")

    X = np.array([[0.0], [1.0], [2.0]])
    model = sk.LinearRegression().fit(X, np.array([0.0, 2.0, 4.0]))
    mlflow.set_experiment("models")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model")
    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert loaded.predict(np.array([[3.0]]))[0] == pytest.approx(6.0)


def test_async_logging_lands_every_point(tracking):
    from mlflow import MlflowClient

    mlflow.set_experiment("async")
    with mlflow.start_run() as run:
        for i in range(200):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i, synchronous=False)
        mlflow.log_param("mode", "async", synchronous=False)
        mlflow.set_tag("kind", "async", synchronous=False)
        mlflow.flush_async_logging()
    got = MlflowClient().get_run(run.info.run_id)
    assert got.data.params == {"mode": "async"} and got.data.tags["kind"] == "async"
    hist = MlflowClient().get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in hist) == list(range(200))
