"""MLflow artifacts and models against a server workspace, through the `azureml://` URI the workspace gives.

The server names artifact locations `mlflow-artifacts:/...`, which MLflow resolves only against an
http(s) tracking URI: the bridge's REST stores hand MLflow `azureml://` locations instead, served by
its artifact repository with the bridge's tokens.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

mlflow = pytest.importorskip("mlflow")

from conftest_server import LiveServer, live_server  # noqa: E402,F401 - fixture

SUB, RG = "00000000-0000-0000-0000-0000000000dd", "rg"


# ---------------------------------------------------------------------- the rewrite itself (no server)
def test_proxied_locations_in_answers_become_azureml_uris() -> None:
    from mlflow.protos.model_registry_pb2 import GetModelVersionDownloadUri
    from mlflow.protos.service_pb2 import GetRun, SearchExperiments

    from azuremlmlflow import _server, _uri

    target = _uri.parse(_uri.build(SUB, RG, "w1", endpoint="http://127.0.0.1:5000/prefix"))
    convert = _server._to_azureml(target)
    run = GetRun.Response()
    run.run.info.artifact_uri = "mlflow-artifacts:/runs/abc"
    metric = run.run.data.metrics.add()
    metric.key, metric.value = "mlflow-artifacts:/not-a-location", 1.0
    _server.localize(run, convert)
    assert run.run.info.artifact_uri == (
        "azureml://127.0.0.1:5000/prefix/mlflow/v1.0/subscriptions/" + SUB + "/resourceGroups/rg/providers/"
        "Microsoft.MachineLearningServices/workspaces/w1/runs/abc?scheme=http")
    assert run.run.data.metrics[0].key == "mlflow-artifacts:/not-a-location"  # only location fields change
    back = _uri.parse(run.run.info.artifact_uri)
    assert (back.endpoint, back.workspace_name, back.rest) == ("http://127.0.0.1:5000/prefix", "w1", "/runs/abc")

    exps = SearchExperiments.Response()
    exps.experiments.add().artifact_location = "mlflow-artifacts:/experiments"
    exps.experiments.add().artifact_location = "mlflow-artifacts://elsewhere:80/x"  # another server's: kept
    _server.localize(exps, convert)
    assert exps.experiments[0].artifact_location.endswith("/workspaces/w1/experiments?scheme=http")
    assert exps.experiments[1].artifact_location == "mlflow-artifacts://elsewhere:80/x"

    download = GetModelVersionDownloadUri.Response(artifact_uri="mlflow-artifacts:/models/m/1/model")
    _server.localize(download, convert)
    assert download.artifact_uri.startswith("azureml://127.0.0.1:5000/prefix/mlflow/v1.0/")


# ---------------------------------------------------------------------- against a real server
@pytest.fixture
def server_ws(live_server: LiveServer, azuremlcore_home: Path, workdir: Path,  # noqa: F811 - fixture
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A server workspace reached with the saved login (`aml login`), as MLflow's tracking and registry URI."""
    from azuremlcore import Workspace
    from azuremlcore.authentication import save_login

    monkeypatch.delenv("AZUREMLCORE_TOKEN", raising=False)
    save_login(live_server.url, live_server.token("hal", "Contributor", f"/subscriptions/{SUB}"))
    monkeypatch.setenv("AZUREMLCORE_ENDPOINT", live_server.url)
    ws = Workspace.create("artws", subscription_id=SUB, resource_group=RG, exist_ok=True, show_output=False)
    monkeypatch.delenv("AZUREMLCORE_ENDPOINT")
    mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
    yield ws
    while mlflow.active_run() is not None:
        mlflow.end_run()
    import mlflow.tracking.fluent as fluent

    if hasattr(fluent, "_active_experiment_id"):  # MLflow's process-wide choice of experiment
        fluent._active_experiment_id = None
    mlflow.set_tracking_uri(None)


@pytest.mark.slow
def test_artifacts_log_list_download_and_delete(server_ws: Any, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from azuremlcore import Experiment, Run

    (tmp_path / "folder" / "sub").mkdir(parents=True)
    (tmp_path / "folder" / "a.txt").write_text("a")
    (tmp_path / "folder" / "sub" / "b.txt").write_text("b")
    (tmp_path / "one file.txt").write_text("one")
    mlflow.set_experiment("arts")
    with mlflow.start_run() as active:
        mlflow.log_artifact(str(tmp_path / "one file.txt"))
        mlflow.log_artifacts(str(tmp_path / "folder"), artifact_path="dir")
        mlflow.log_text("text", "notes/t.txt")
        mlflow.log_dict({"k": 1}, "cfg.json")
        assert mlflow.get_artifact_uri().startswith("azureml://")
    run_id = active.info.run_id
    run = Run(Experiment(server_ws, "arts"), run_id)
    assert sorted(run.get_file_names()) == ["cfg.json", "dir/a.txt", "dir/sub/b.txt", "notes/t.txt", "one file.txt"]

    # A client given the URI explicitly (no process-wide tracking URI) reads them with the same login.
    uri = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(None)
    client = MlflowClient(tracking_uri=uri)
    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id, "dir")] == [("dir/a.txt", False),
                                                                                  ("dir/sub", True)]
    local = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "dl"), tracking_uri=uri)
    assert (Path(local) / "dir" / "sub" / "b.txt").read_text() == "b"
    assert (Path(local) / "one file.txt").read_text() == "one"
    one = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="cfg.json", tracking_uri=uri,
                                              dst_path=str(tmp_path / "one"))
    assert json.loads(Path(one).read_text()) == {"k": 1}


@pytest.mark.slow
def test_sklearn_model_log_load_register_on_a_server(server_ws: Any) -> None:
    np = pytest.importorskip("numpy")
    sk = pytest.importorskip("sklearn.linear_model")
    from azuremlcore.model import Model

    model = sk.LinearRegression().fit(np.array([[0.0], [1.0], [2.0]]), np.array([0.0, 2.0, 4.0]))
    mlflow.set_experiment("models")
    with mlflow.start_run() as active:
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    run_id = active.info.run_id
    x = np.array([[3.0]])
    assert mlflow.sklearn.load_model(info.model_uri).predict(x)[0] == pytest.approx(6.0)
    assert mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict(x)[0] == pytest.approx(6.0)
    version = mlflow.register_model(f"runs:/{run_id}/model", "served")
    assert mlflow.pyfunc.load_model(f"models:/served/{version.version}").predict(x)[0] == pytest.approx(6.0)
    registered = Model(server_ws, "served")  # the registry is the workspace's model list
    assert registered.version == int(version.version) and registered.run_id == run_id
    local = mlflow.artifacts.download_artifacts(f"models:/served/{version.version}")
    assert (Path(local) / "MLmodel").is_file()


@pytest.mark.slow
def test_a_jobs_run_token_logs_a_model_of_its_own_run_only(server_ws: Any, live_server: LiveServer,  # noqa: F811
                                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Inside a submitted run on a server, MLflow holds only the run's token: log_model must still work."""
    np = pytest.importorskip("numpy")
    sk = pytest.importorskip("sklearn.linear_model")
    from mlflow.exceptions import MlflowException

    from azuremlcore import Experiment, Run

    job = Experiment(server_ws, "jobs").start_logging()
    other = Experiment(server_ws, "jobs").start_logging()
    token, _ = live_server.state.issue_run_token(job.id)
    monkeypatch.setenv("AZUREML_RUN_TOKEN", token)  # MLflow sends it before the user's login
    model = sk.LinearRegression().fit(np.array([[0.0], [1.0]]), np.array([0.0, 2.0]))
    with mlflow.start_run(run_id=job.id):
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        mlflow.log_metric("m", 1.0)
    assert mlflow.sklearn.load_model(info.model_uri).predict(np.array([[2.0]]))[0] == pytest.approx(4.0)
    assert Run(Experiment(server_ws, "jobs"), job.id).get_metrics() == {"m": 1.0}
    with pytest.raises(MlflowException, match="only its own run"):  # a model of another run: refused
        mlflow.MlflowClient().create_logged_model(experiment_id=job.experiment.id, source_run_id=other.id)
    job.complete()
    other.complete()


@pytest.mark.slow
def test_a_jobs_run_token_registers_its_own_runs_models_only(server_ws: Any, live_server: LiveServer,  # noqa: F811
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`mlflow.register_model` in a server job works for the job's own run; the rest of the registry is refused."""
    from mlflow.exceptions import MlflowException

    from azuremlcore import Experiment
    from azuremlcore.model import Model

    job = Experiment(server_ws, "jobs").start_logging()
    other = Experiment(server_ws, "jobs").start_logging()
    for run in (job, other):
        run.upload_file("model/MLmodel", __file__)  # any file: the registry records where the model lies
    token, _ = live_server.state.issue_run_token(job.id)
    monkeypatch.setenv("AZUREML_RUN_TOKEN", token)
    client = mlflow.MlflowClient()
    client.create_registered_model("by-job")
    mine = client.create_model_version("by-job", f"runs:/{job.id}/model", run_id=job.id)
    assert Model(server_ws, "by-job", version=int(mine.version)).run_id == job.id
    with pytest.raises(MlflowException, match="only register models of its own run"):
        client.create_model_version("by-job", f"runs:/{other.id}/model", run_id=other.id)
    with pytest.raises(MlflowException, match="only register models of its own run"):
        client.delete_registered_model("by-job")
    job.complete()
    other.complete()
