"""MLflow Projects on the `azureml` backend: `mlflow.projects.run(..., backend="azureml")` becomes a workspace run."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow")

from mlflow.exceptions import ExecutionException  # noqa: E402

from azuremlcore import Experiment, Run  # noqa: E402
from conftest_server import LiveServer  # noqa: E402

TRAIN = textwrap.dedent("""\
    import sys, time, mlflow
    alpha = float(sys.argv[1])
    if alpha < 0:
        sys.exit("alpha must be positive")
    with mlflow.start_run():
        mlflow.log_param("alpha", alpha)
        for i in range(3):
            mlflow.log_metric("rmse", 1.0 / (i + 1 + alpha), step=i)
    time.sleep(float(sys.argv[2]))
    print("trained with", alpha)
    """)


def _project(folder: Path, env_lines: str = "", python_env: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text(TRAIN)
    (folder / "MLproject").write_text("name: tutorial\n" + env_lines + textwrap.dedent("""\
        entry_points:
          main:
            parameters:
              alpha: {type: float, default: 0.5}
              sleep: {type: float, default: 0}
            command: "python train.py {alpha} {sleep}"
        """))
    if python_env is not None:
        (folder / "python_env.yaml").write_text(python_env)
    return folder


def _check_project_run(ws: Any, run_id: str, alpha: str) -> None:
    run = Run(Experiment(ws, "proj-exp"), run_id)
    assert run.get_status() == "Completed"
    assert run.get_metrics()["rmse"] == pytest.approx([1 / (i + 1 + float(alpha)) for i in range(3)])
    data = mlflow.get_run(run_id).data
    assert data.params == {"alpha": alpha, "sleep": "0"}
    assert data.tags["mlflow.project.backend"] == "azureml"
    assert data.tags["mlflow.project.entryPoint"] == "main"
    assert data.tags["mlflow.source.type"] == "PROJECT"
    assert f"trained with {alpha}" in _log_text(run)


def _log_text(run: Run) -> str:
    return run.get_details_with_logs()["logFiles"]["user_logs/std_log.txt"]


def test_synchronous_and_asynchronous_project_runs_are_workspace_runs(mlflow_ws: Any, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path / "proj")
    mlflow.set_experiment("proj-exp")
    done = mlflow.projects.run(str(project), parameters={"alpha": 0.3}, backend="azureml",
                               backend_config={"USE_CONDA": False})
    assert done.get_status() == "FINISHED" and done.wait()
    assert "Streaming user_logs/std_log.txt" in capsys.readouterr().out  # synchronous streams the job's log
    _check_project_run(mlflow_ws, done.run_id, "0.3")

    pending = mlflow.projects.run(str(project), parameters={"alpha": 0.7, "sleep": 0}, backend="azureml",
                                  backend_config={"USE_CONDA": False}, synchronous=False)
    assert pending.get_status() in ("SCHEDULED", "RUNNING", "FINISHED")
    assert pending.wait() is True and pending.get_status() == "FINISHED"
    assert pending.azureml_run.id == pending.run_id
    _check_project_run(mlflow_ws, pending.run_id, "0.7")
    assert len(list(Experiment(mlflow_ws, "proj-exp").get_runs())) == 2


def test_a_failing_entry_point_fails_the_call_and_the_run(mlflow_ws: Any, tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    mlflow.set_experiment("proj-exp")
    with pytest.raises(ExecutionException, match="failed"):
        mlflow.projects.run(str(project), parameters={"alpha": -1}, backend="azureml", env_manager="local")
    (run,) = Experiment(mlflow_ws, "proj-exp").get_runs()
    assert run.get_status() == "Failed"
    assert "alpha must be positive" in _log_text(run)


def test_cancel_stops_an_asynchronous_project_run(mlflow_ws: Any, tmp_path: Path, wait_until: Any) -> None:
    project = _project(tmp_path / "proj")
    mlflow.set_experiment("proj-exp")
    pending = mlflow.projects.run(str(project), parameters={"alpha": 0.1, "sleep": 60}, backend="azureml",
                                  env_manager="local", synchronous=False)
    wait_until(lambda: pending.azureml_run.get_metrics().get("rmse"), what="the entry point logging")
    assert pending.get_status() == "RUNNING"
    pending.cancel()
    assert pending.get_status() == "KILLED"
    assert pending.wait() is False


def test_clear_errors_for_what_the_backend_cannot_run(mlflow_ws: Any, tmp_path: Path) -> None:
    mlflow.set_experiment("proj-exp")
    no_env = _project(tmp_path / "plain")
    with pytest.raises(ExecutionException, match="neither a python_env.yaml nor a conda.yaml"):
        mlflow.projects.run(str(no_env), backend="azureml", env_manager="virtualenv")
    docker = _project(tmp_path / "docker", env_lines="docker_env:\n  image: python:3.11\n")
    with pytest.raises(ExecutionException, match="docker_env"):
        mlflow.projects.run(str(docker), backend="azureml")
    outside = _project(tmp_path / "outside", python_env="python: '3.11'\ndependencies:\n  - -r ../reqs.txt\n")
    (tmp_path / "reqs.txt").write_text("mlflow-skinny\n")
    with pytest.raises(ExecutionException, match="not in the project"):
        mlflow.projects.run(str(outside), backend="azureml")
    assert list(Experiment(mlflow_ws, "proj-exp").get_runs()) == []  # nothing was submitted
    mlflow.set_tracking_uri(f"file:{tmp_path / 'mlruns'}")
    with pytest.raises(ExecutionException, match=r"set_tracking_uri\(ws.get_mlflow_tracking_uri\(\)\)"):
        mlflow.projects.run(str(no_env), backend="azureml", experiment_id="0")


def test_python_env_yaml_choices(tmp_path: Path) -> None:
    from azuremlmlflow import projects

    project = _project(tmp_path / "proj", python_env=textwrap.dedent("""\
        python: "3.10"
        build_dependencies: [pip, "setuptools<81", wheel]
        dependencies:
          - -r requirements.txt
          - numpy
        """))
    (project / "requirements.txt").write_text("# pinned\nmlflow-skinny>=2.10  # the client\n\nscikit-learn==1.5.*\n")
    from mlflow.projects.utils import load_project

    loaded = load_project(str(project))
    env = projects._environment(loaded, str(project), {"ENV_MANAGER": "virtualenv"})
    deps = env.python.conda_dependencies
    assert sorted(deps.pip_packages) == sorted(["setuptools<81", "mlflow-skinny>=2.10", "scikit-learn==1.5.*",
                                                "numpy"])
    assert deps.get_python_version() == "3.10"
    assert not env.python.user_managed_dependencies
    # USE_CONDA False (the azureml-mlflow notebooks' setting) and env_manager="local": this interpreter.
    for config in ({"USE_CONDA": False}, {"ENV_MANAGER": "local", "USE_CONDA": True}):
        local = projects._environment(loaded, str(project), config)
        assert local.python.user_managed_dependencies
    # No env_manager and no USE_CONDA: the project's own file decides.
    assert not projects._environment(loaded, str(project), {}).python.user_managed_dependencies


@pytest.mark.slow
def test_virtualenv_project_on_a_server_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = "00000000-0000-0000-0000-0000000000aa"
    server = LiveServer(tmp_path / "server")
    try:
        monkeypatch.setenv("AZUREMLCORE_ENDPOINT", server.url)
        monkeypatch.setenv("AZUREMLCORE_TOKEN", server.token("alice", "Contributor", f"/subscriptions/{sub}"))
        from azuremlcore import Workspace

        ws = Workspace.create("projects", subscription_id=sub, resource_group="rg", exist_ok=True, show_output=False)
        mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
        mlflow.set_experiment("proj-exp")
        project = _project(tmp_path / "proj", env_lines="python_env: python_env.yaml\n",
                           python_env="python: '3.11'\ndependencies:\n  - mlflow-skinny\n")
        done = mlflow.projects.run(str(project), parameters={"alpha": 0.2}, backend="azureml",
                                   env_manager="virtualenv")
        _check_project_run(ws, done.run_id, "0.2")
        assert Run(Experiment(ws, "proj-exp"), done.run_id).get_details()["runDefinition"]["environment"]["name"] \
            == "mlflow-project-tutorial"
    finally:
        mlflow.set_tracking_uri(None)
        server.stop()
