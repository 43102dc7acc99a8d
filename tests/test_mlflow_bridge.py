"""The MLflow bridge with the real mlflow client on an embedded workspace (no server)."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow")

from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, ViewType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

from azuremlcore import Experiment, Workspace  # noqa: E402


def test_tracking_uri_has_the_azure_format_and_names_the_home(workspace: Workspace, azuremlcore_home: Path) -> None:
    from azuremlmlflow import _uri, get_mlflow_tracking_uri

    uri = get_mlflow_tracking_uri(workspace)
    assert uri.startswith("azureml://local/mlflow/v1.0/subscriptions/00000000-0000-0000-0000-000000000001/"
                          "resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1")
    assert workspace.get_mlflow_tracking_uri() == uri
    parsed = _uri.parse(uri)
    assert parsed.embedded and Path(parsed.home or "") == azuremlcore_home.resolve()
    assert (parsed.subscription_id, parsed.resource_group, parsed.workspace_name) == (workspace.subscription_id, "rg",
                                                                                      "ws1")
    server = _uri.build("s", "r", "w", endpoint="http://127.0.0.1:8123/aml")
    assert server == ("azureml://127.0.0.1:8123/aml/mlflow/v1.0/subscriptions/s/resourceGroups/r/providers/"
                      "Microsoft.MachineLearningServices/workspaces/w?scheme=http")
    assert _uri.parse(server).rest_base == ("http://127.0.0.1:8123/aml/mlflow/v1.0/subscriptions/s/resourceGroups/r/"
                                            "providers/Microsoft.MachineLearningServices/workspaces/w")
    with pytest.raises(ValueError, match="azureml://<host>/mlflow/v1.0"):
        _uri.parse("azureml://local/not/a/workspace")


def test_import_azuremlmlflow_does_not_import_mlflow() -> None:
    code = "import sys, azuremlmlflow, azuremlcore; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_seed_flow_is_visible_to_the_sdk(mlflow_ws: Workspace, workdir: Path) -> None:
    (workdir / "plot.png").write_bytes(b"\x89PNG fake")
    mlflow.set_experiment("experiment_with_mlflow")
    with mlflow.start_run() as active:
        mlflow.log_metric("alpha", 0.03)
        mlflow.log_param("lr", 0.1)
        mlflow.log_artifact("plot.png")
    runs = list(Experiment(mlflow_ws, "experiment_with_mlflow").get_runs())
    assert [r.id for r in runs] == [active.info.run_id]
    run = runs[0]
    assert run.get_metrics() == {"alpha": 0.03}
    assert run.get_status() == "Completed"
    assert run.get_details()["target"] == "local"
    assert run.type == "azureml.interactive"
    assert "plot.png" in run.get_file_names()
    assert run.display_name == active.info.run_name
    assert mlflow_ws.experiments["experiment_with_mlflow"].id == active.info.experiment_id


def test_sdk_logged_metrics_are_mlflow_metrics(mlflow_ws: Workspace) -> None:
    exp = Experiment(mlflow_ws, "sdk_exp")
    run = exp.start_logging()
    run.log("loss", 1.5)
    run.log("loss", 0.5)
    run.log("flag", True)
    run.log("note", "text is not an MLflow metric")
    run.log_list("curve", [1, 2, 3])
    run.tag("team", "a")
    client = MlflowClient()
    data = client.get_run(run.id).data  # no flush: the bridge makes queued SDK values visible first
    assert data.metrics == {"loss": 0.5, "flag": 1.0, "curve": 3.0}
    assert data.tags["team"] == "a"
    history = client.get_metric_history(run.id, "loss")
    assert [(m.value, m.step) for m in history] == [(1.5, 0), (0.5, 1)]
    run.complete()
    assert client.get_run(run.id).info.status == "FINISHED"


def test_mlflow_metrics_with_step_timestamp_nan_and_inf_reach_get_metrics(mlflow_ws: Workspace) -> None:
    mlflow.set_experiment("steps")
    with mlflow.start_run() as active:
        mlflow.log_metric("acc", 0.5, step=3, timestamp=1000)
        mlflow.log_metric("acc", 0.7, step=4, timestamp=2000)
        mlflow.log_metric("bad", float("nan"))
        mlflow.log_metric("big", float("inf"))
    run = mlflow_ws.get_run(active.info.run_id)
    metrics = run.get_metrics()
    assert metrics["acc"] == [0.5, 0.7] and math.isnan(metrics["bad"]) and metrics["big"] == math.inf
    hist = MlflowClient().get_metric_history(active.info.run_id, "acc")
    assert [(m.step, m.timestamp, m.value) for m in hist] == [(3, 1000, 0.5), (4, 2000, 0.7)]


def test_search_runs_filter_order_and_paging(mlflow_ws: Workspace) -> None:
    exp_id = mlflow.set_experiment("search_exp").experiment_id
    for i, acc in enumerate([0.2, 0.9, 0.5, 0.7]):
        with mlflow.start_run(run_name=f"r{i}"):
            mlflow.log_param("lr", "0.1" if i % 2 else "0.2")
            mlflow.log_metric("acc", acc)
            mlflow.set_tag("kind", "even" if i % 2 == 0 else "odd")
    best = mlflow.search_runs(experiment_ids=[exp_id], filter_string="params.lr = '0.1'",
                              run_view_type=ViewType.ACTIVE_ONLY, max_results=1, order_by=["metrics.acc DESC"],
                              output_format="list")
    assert [r.data.metrics["acc"] for r in best] == [0.9]
    ordered = mlflow.search_runs(experiment_ids=[exp_id], order_by=["metrics.acc ASC"], output_format="list")
    assert [r.data.metrics["acc"] for r in ordered] == [0.2, 0.5, 0.7, 0.9]
    assert len(mlflow.search_runs([exp_id], "tags.kind = 'even' and metrics.acc > 0.3", output_format="list")) == 1
    client = MlflowClient()
    page1 = client.search_runs([exp_id], max_results=3, order_by=["attributes.run_name ASC"])
    assert [r.info.run_name for r in page1] == ["r0", "r1", "r2"] and page1.token
    page2 = client.search_runs([exp_id], max_results=3, order_by=["attributes.run_name ASC"], page_token=page1.token)
    assert [r.info.run_name for r in page2] == ["r3"] and not page2.token
    with pytest.raises(MlflowException):
        client.search_runs([exp_id], filter_string="metrics.acc >>> 1")


def test_params_are_write_once(mlflow_ws: Workspace) -> None:
    mlflow.set_experiment("params")
    with mlflow.start_run() as active:
        mlflow.log_param("lr", 0.1)
        mlflow.log_param("lr", 0.1)  # same value: fine
        with pytest.raises(MlflowException) as info:
            mlflow.log_param("lr", 0.2)
        assert info.value.error_code == "INVALID_PARAMETER_VALUE"
        MlflowClient().log_batch(active.info.run_id, params=[Param("depth", "3")],
                                 metrics=[Metric("m", 1.0, 5, 0)])
    assert MlflowClient().get_run(active.info.run_id).data.params == {"lr": "0.1", "depth": "3"}


def test_nested_runs_are_child_runs(mlflow_ws: Workspace) -> None:
    mlflow.set_experiment("nested")
    with mlflow.start_run() as parent:
        with mlflow.start_run(nested=True) as child:
            mlflow.log_metric("c", 1.0)
    sdk_parent = mlflow_ws.get_run(parent.info.run_id)
    assert [r.id for r in sdk_parent.get_children()] == [child.info.run_id]
    assert MlflowClient().get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id
    top = list(Experiment(mlflow_ws, "nested").get_runs())
    assert [r.id for r in top] == [parent.info.run_id]


def test_deleted_runs_are_hidden_and_read_only(mlflow_ws: Workspace) -> None:
    exp_id = mlflow.set_experiment("deleting").experiment_id
    with mlflow.start_run() as keep:
        pass
    with mlflow.start_run() as gone:
        mlflow.log_metric("m", 1.0)
    client = MlflowClient()
    client.delete_run(gone.info.run_id)
    assert [r.id for r in Experiment(mlflow_ws, "deleting").get_runs()] == [keep.info.run_id]
    assert [r.info.run_id for r in client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)] == \
        [gone.info.run_id]
    assert len(client.search_runs([exp_id], run_view_type=ViewType.ALL)) == 2
    assert client.get_run(gone.info.run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(MlflowException, match="active"):
        client.log_metric(gone.info.run_id, "m", 2.0)
    client.restore_run(gone.info.run_id)
    client.log_metric(gone.info.run_id, "m", 2.0)
    assert mlflow_ws.get_run(gone.info.run_id).get_metrics() == {"m": [1.0, 2.0]}


def test_artifacts_log_list_download(mlflow_ws: Workspace, workdir: Path, tmp_path: Path) -> None:
    src = workdir / "outdir"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.txt").write_text("B")
    mlflow.set_experiment("arts")
    with mlflow.start_run() as active:
        mlflow.log_artifacts(str(src), artifact_path="results")
        mlflow.log_text("hello", "notes/hello.txt")
        mlflow.log_dict({"k": 1}, "conf.json")
    client = MlflowClient()
    run_id = active.info.run_id
    assert sorted(f.path for f in client.list_artifacts(run_id)) == ["conf.json", "notes", "results"]
    assert sorted(f.path for f in client.list_artifacts(run_id, "results")) == ["results/a.txt", "results/sub"]
    local = client.download_artifacts(run_id, "results", str(tmp_path / "dl"))
    assert (Path(local) / "sub" / "b.txt").read_text() == "B"
    run = mlflow_ws.get_run(run_id)
    assert run.get_file_names() == ["conf.json", "notes/hello.txt", "results/a.txt", "results/sub/b.txt"]
    run.upload_file("sdk/file.txt", str(src / "a.txt"))
    assert "sdk" in [f.path for f in client.list_artifacts(run_id)]


def test_default_experiment_and_experiment_lifecycle(mlflow_ws: Workspace) -> None:
    client = MlflowClient()
    default = client.get_experiment("0")
    assert default.name == "Default"
    exp_id = client.create_experiment("lifecycle", tags={"owner": "me"})
    with pytest.raises(MlflowException) as info:
        client.create_experiment("lifecycle")
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert Experiment(mlflow_ws, "lifecycle").tags == {"owner": "me"}
    client.delete_experiment(exp_id)
    assert [e.name for e in Experiment.list(mlflow_ws, view_type="ArchivedOnly")] == ["lifecycle"]
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert "lifecycle" not in [e.name for e in client.search_experiments()]
    client.restore_experiment(exp_id)
    client.rename_experiment(exp_id, "renamed")
    assert [e.name for e in client.search_experiments(filter_string="name LIKE 'ren%'")] == ["renamed"]
    assert client.get_experiment_by_name("nope") is None
    with pytest.raises(MlflowException) as info:
        client.get_run("no-such-run")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_tags_and_run_name(mlflow_ws: Workspace) -> None:
    mlflow.set_experiment("tags")
    with mlflow.start_run(run_name="first") as active:
        mlflow.set_tag("t", "1")
        mlflow.set_tag("mlflow.runName", "second")
    client = MlflowClient()
    run_id = active.info.run_id
    assert mlflow_ws.get_run(run_id).display_name == "second"
    client.delete_tag(run_id, "t")
    assert "t" not in client.get_run(run_id).data.tags
    with pytest.raises(MlflowException):
        client.delete_tag(run_id, "t")


def test_logged_models_api(mlflow_ws: Workspace) -> None:
    client = MlflowClient()
    exp_id = mlflow.set_experiment("models").experiment_id
    with mlflow.start_run() as active:
        model = client.create_logged_model(exp_id, name="clf", source_run_id=active.info.run_id,
                                           params={"depth": "3"}, tags={"stage": "dev"})
        assert model.status == "PENDING" and model.artifact_location.startswith("file://")
        client.log_metric(active.info.run_id, "acc", 0.8, model_id=model.model_id)
    client.finalize_logged_model(model.model_id, "READY")
    client.set_logged_model_tags(model.model_id, {"stage": "prod"})
    got = client.get_logged_model(model.model_id)
    assert (got.name, str(got.status), got.tags["stage"], got.params) == ("clf", "READY", "prod", {"depth": "3"})
    assert [(m.key, m.value) for m in got.metrics] == [("acc", 0.8)]
    found = client.search_logged_models([exp_id], filter_string="name = 'clf' AND metrics.acc > 0.5")
    assert [m.model_id for m in found] == [model.model_id]
    client.delete_logged_model_tag(model.model_id, "stage")
    client.delete_logged_model(model.model_id)
    assert list(client.search_logged_models([exp_id])) == []
    with pytest.raises(MlflowException):
        client.get_logged_model(model.model_id)


def _submitted_run(ws: Workspace, name: str) -> Any:
    from azuremlcore.run import SCRIPT_RUN_TYPE, Run

    return Run._start(Experiment(ws, name), run_type=SCRIPT_RUN_TYPE, status="Running")


def _run_script(ws: Workspace, run: Any, script: str, cwd: Path) -> subprocess.CompletedProcess:
    from azuremlmlflow import get_mlflow_tracking_uri

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AZUREMLCORE_HOME"))}
    env.update(MLFLOW_TRACKING_URI=get_mlflow_tracking_uri(ws), MLFLOW_RUN_ID=run.id,
               MLFLOW_EXPERIMENT_ID=run.experiment.id, MLFLOW_EXPERIMENT_NAME=run.experiment.name,
               AZUREML_RUN_ID=run.id, AZUREML_ARM_WORKSPACE_NAME=ws.name)
    (cwd / "train.py").write_text(textwrap.dedent(script))
    # No AZUREMLCORE_HOME in the child: the URI alone must lead it to the workspace.
    return subprocess.run([sys.executable, "train.py"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow
def test_submitted_script_with_only_mlflow_logs_into_its_run(workspace: Workspace, tmp_path: Path) -> None:
    bare = _submitted_run(workspace, "submitted")
    out = _run_script(workspace, bare, """
        import mlflow
        mlflow.log_metric("bare", 1.0)          # no start_run: resumes MLFLOW_RUN_ID
        mlflow.log_metric("bare", 2.0)
        mlflow.log_param("p", "x")
    """, tmp_path)
    assert out.returncode == 0, out.stderr
    assert bare.get_metrics() == {"bare": [1.0, 2.0]}
    assert bare.get_status() == "Running"  # the runner, not MLflow's end_run at exit, decides the final status

    with_start = _submitted_run(workspace, "submitted")
    out = _run_script(workspace, with_start, """
        import mlflow
        with mlflow.start_run():                # the submitted run
            mlflow.log_metric("inside", 2.0)
            with mlflow.start_run(nested=True):
                mlflow.log_metric("child", 3.0)
        mlflow.log_metric("later", 4.0)         # MLflow starts a new run: a child of the job's run
    """, tmp_path)
    assert out.returncode == 0, out.stderr
    assert with_start.get_metrics() == {"inside": 2.0}
    children = {c.id: c.get_metrics() for c in with_start.get_children()}
    assert sorted(children.values(), key=str) == [{"child": 3.0}, {"later": 4.0}]
    assert with_start.get_status() == "Running"
    top = [r.id for r in Experiment(workspace, "submitted").get_runs()]
    assert sorted(top) == sorted([bare.id, with_start.id])


@pytest.mark.slow
def test_sklearn_autolog_and_model_round_trip(mlflow_ws: Workspace, tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    pytest.importorskip("pandas", reason="pandas is not installed")
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]] * 5)
    y = np.array([0, 1, 0, 1] * 5)
    mlflow.set_experiment("autolog")
    mlflow.sklearn.autolog(log_models=False, log_datasets=True, silent=True)
    try:
        with mlflow.start_run() as active:
            clf = LogisticRegression().fit(X, y)
            info = mlflow.sklearn.log_model(clf, name="model")
    finally:
        mlflow.sklearn.autolog(disable=True)
    run = mlflow_ws.get_run(active.info.run_id)
    metrics = run.get_metrics()
    assert "training_accuracy_score" in metrics
    assert MlflowClient().get_run(run.id).data.params["C"] == "1.0"
    loaded = mlflow.pyfunc.load_model(f"runs:/{run.id}/model")
    assert list(loaded.predict(X[:2])) == list(clf.predict(X[:2]))
    assert mlflow.pyfunc.load_model(info.model_uri).predict(X[:1])[0] == clf.predict(X[:1])[0]
    assert MlflowClient().get_run(run.id).outputs.model_outputs[0].model_id == info.model_id


@pytest.mark.slow
def test_autolog_inside_a_submitted_script(workspace: Workspace, tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    run = _submitted_run(workspace, "submitted_autolog")
    out = _run_script(workspace, run, """
        import mlflow, numpy as np
        from sklearn.linear_model import LinearRegression
        mlflow.autolog(silent=True)
        X = np.arange(20.0).reshape(10, 2); y = X @ [1.0, 2.0]
        LinearRegression().fit(X, y)
    """, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "training_r2_score" in run.get_metrics()
    assert any(n.startswith("model/") or n == "estimator.html" for n in run.get_file_names()) or \
        MlflowClient(workspace.get_mlflow_tracking_uri()).get_run(run.id).outputs.model_outputs


@pytest.mark.slow
def test_autolog_does_not_take_the_scripts_own_metrics_away(workspace: Workspace, tmp_path: Path) -> None:
    # Autologging starts a run around fit() (the job's run, resumed) and ends it after; the script's own
    # log_metric calls that follow must still land in the job's run, not in a new child run.
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    run = _submitted_run(workspace, "autolog_then_mine")
    out = _run_script(workspace, run, """
        import mlflow, numpy as np
        from sklearn.linear_model import LinearRegression
        mlflow.autolog(silent=True, log_models=False)
        X = np.arange(20.0).reshape(10, 2); y = X @ [1.0, 2.0]
        LinearRegression().fit(X, y)         # autolog resumes the job's run and ends it
        mlflow.log_metric("mine", 1.0)       # the script's own metrics: the job's run
        mlflow.log_metrics({"more": 2.0})
        mlflow.log_param("alpha", "0.1")
        LinearRegression().fit(X, y)         # a run is active: autolog logs into it and leaves it open
        mlflow.end_run()                     # the script ends the job's run itself ...
        with mlflow.start_run():             # ... so this is a new run, as MLflow has it: a child of the job's run
            mlflow.log_metric("own_run", 3.0)
    """, tmp_path)
    assert out.returncode == 0, out.stderr
    metrics = run.get_metrics()
    assert metrics["mine"] == 1.0 and metrics["more"] == 2.0
    assert len(metrics["training_r2_score"]) == 2  # both fits autologged into the job's run
    assert MlflowClient(workspace.get_mlflow_tracking_uri()).get_run(run.id).data.params["alpha"] == "0.1"
    assert [c.get_metrics() for c in run.get_children()] == [{"own_run": 3.0}]
    assert run.get_status() == "Running"  # the runner, not MLflow, ends a job's run


def test_azureml_artifact_uri_reaches_the_run_files(mlflow_ws: Workspace, workdir: Path, tmp_path: Path) -> None:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    run = Experiment(mlflow_ws, "art_uri").start_logging()
    (workdir / "f.txt").write_text("F")
    base, _, query = mlflow_ws.get_mlflow_tracking_uri().partition("?")
    repo = get_artifact_repository(f"{base}/runs/{run.id}?{query}")
    repo.log_artifact(str(workdir / "f.txt"), "sub")
    assert run.get_file_names() == ["sub/f.txt"]
    assert [f.path for f in repo.list_artifacts("sub")] == ["sub/f.txt"]
    assert Path(repo.download_artifacts("sub/f.txt", str(tmp_path))).read_text() == "F"
