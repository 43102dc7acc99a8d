"""One plain-MLflow training script, submitted in every kind of environment the SDK builds, on an embedded
and on a server workspace: its metrics, params, tags, an artifact and a logged model land in the run.

The environments are built once for the module (a shared home), so the second workspace kind reuses them.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from conftest_server import LiveServer

pytestmark = pytest.mark.slow
mlflow = pytest.importorskip("mlflow")

SUB, RG = "00000000-0000-0000-0000-0000000000aa", "rg"

SCRIPT = """\
    import os, sys
    import mlflow
    import mlflow.pyfunc
    from azureml.core import Run  # the real SDK's name: the alias is on in jobs

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return [x * 2 for x in model_input]

    mlflow.log_param("alpha", 0.5)
    for i in range(3):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    mlflow.set_tag("kind", os.environ["MATRIX_KIND"])
    mlflow.set_tag("python", "%d.%d" % sys.version_info[:2])
    with open("note.txt", "w") as f:
        f.write("hello")
    mlflow.log_artifact("note.txt")
    mlflow.pyfunc.log_model("model", python_model=Echo(), pip_requirements=["mlflow"])  # no inference subprocess
    run_id = mlflow.active_run().info.run_id
    loaded = mlflow.pyfunc.load_model("runs:/%s/model" % run_id)
    mlflow.log_metric("roundtrip", float(sum(loaded.predict([1, 2]))))
    mlflow.register_model("runs:/%s/model" % run_id, "matrix-" + os.environ["MATRIX_KIND"])
    Run.get_context().log("from_sdk", 7)
    print("mlflow", mlflow.__version__, "python", sys.version.split()[0])
"""


def _pip(*packages: str) -> Callable[[Path, Any], Any]:
    def make(folder: Path, ws: Any) -> Any:
        from azuremlcore import Environment
        from azuremlcore.conda_dependencies import CondaDependencies

        env = Environment("pip-" + "-".join(packages))
        env.python.conda_dependencies = CondaDependencies.create(pip_packages=list(packages))
        return env
    return make


def _conda_yaml(folder: Path, ws: Any) -> Any:
    from azuremlcore import Environment

    spec = folder / "conda.yml"
    spec.write_text("name: train\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - mlflow-skinny\n    - numpy\n    - pandas\n")
    return Environment.from_conda_specification("conda-yaml", str(spec))


def _requirements(folder: Path, ws: Any) -> Any:
    from azuremlcore import Environment

    spec = folder / "requirements.txt"
    spec.write_text("mlflow-skinny\nnumpy\npandas\n")
    return Environment.from_pip_requirements("requirements-file", str(spec))


def _curated(folder: Path, ws: Any) -> Any:
    from azuremlcore import Environment

    return Environment.get(ws, "AzureML-sklearn-1.5")


def _user_managed(folder: Path, ws: Any) -> Any:
    from azuremlcore import Environment

    env = Environment("user-managed")
    env.python.user_managed_dependencies = True
    return env


def _python38(folder: Path, ws: Any) -> Any:
    from azuremlcore import Environment
    from azuremlcore._environments._materialise import EnvironmentBuildError, find_interpreter
    from azuremlcore.conda_dependencies import CondaDependencies

    try:
        find_interpreter("3.8")
    except EnvironmentBuildError:
        pytest.skip(reason="no Python 3.8 on this machine")
    env = Environment("py38")
    env.python.conda_dependencies = CondaDependencies.create(python_version="3.8",
                                                                  pip_packages=["mlflow-skinny", "numpy", "pandas"])
    return env


KINDS: dict[str, Callable[[Path, Any], Any]] = {
    # mlflow-skinny alone cannot load or log pyfunc models (MLflow imports numpy and pandas there)
    "pip-mlflow-skinny": _pip("mlflow-skinny", "numpy", "pandas"),
    "pip-azureml-mlflow": _pip("azureml-mlflow", "numpy", "pandas"),
    "pip-mlflow": _pip("mlflow"),
    "conda-yaml": _conda_yaml,
    "requirements-file": _requirements,
    "curated-sklearn-1.5": _curated,
    "user-managed": _user_managed,
    "python-3.8": _python38,
}


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One home for the module: every environment is built once and reused by both workspace kinds."""
    return tmp_path_factory.mktemp("matrix-home")


@pytest.fixture
def azuremlcore_home(shared_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # overrides conftest's
    monkeypatch.setenv("AZUREMLCORE_HOME", str(shared_home))
    for var in ("AZUREML_RUN_ID", "AZUREMLCORE_ENDPOINT", "MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID",
                "MLFLOW_TRACKING_TOKEN", "AZUREML_RUN_TOKEN", "AZUREML_RUN_TOKEN_FILE", "AZUREMLCORE_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return shared_home


@pytest.fixture(params=["embedded", "server"])
def ws(request: pytest.FixtureRequest, azuremlcore_home: Path, tmp_path: Path,
       monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from azuremlcore import Workspace

    server = None
    if request.param == "server":
        server = LiveServer(tmp_path / "server")
        monkeypatch.setenv("AZUREMLCORE_ENDPOINT", server.url)
        monkeypatch.setenv("AZUREMLCORE_TOKEN", server.token("alice", "Contributor", f"/subscriptions/{SUB}"))
    workspace = Workspace.create(f"matrix-{request.param}", subscription_id=SUB, resource_group=RG, exist_ok=True,
                                 show_output=False)
    yield workspace
    mlflow.set_tracking_uri(None)
    if server is not None:
        server.stop()


@pytest.mark.parametrize("kind", list(KINDS))
def test_plain_mlflow_script_lands_in_the_run(kind: str, ws: Any, tmp_path: Path) -> None:
    from azuremlcore import Experiment, ScriptRunConfig

    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(textwrap.dedent(SCRIPT))
    env = KINDS[kind](tmp_path, ws)
    env.environment_variables = {"MATRIX_KIND": kind}
    run = Experiment(ws, "matrix").submit(ScriptRunConfig(source_directory=str(src), script="train.py",
                                                          environment=env))
    run.wait_for_completion(raise_on_error=False)
    log = run._artifacts.read_from(run._container, "user_logs/std_log.txt", 0).decode("utf-8", "replace")
    assert run.get_status() == "Completed", log

    metrics = run.get_metrics()
    assert metrics["loss"] == [1.0, 0.5, 1.0 / 3] and metrics["from_sdk"] == 7
    assert metrics["roundtrip"] == 6.0  # the job loaded its own logged model back
    assert run.get_tags()["kind"] == kind
    assert "note.txt" in run.get_file_names()

    mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
    got = mlflow.get_run(run.id)
    assert got.data.params == {"alpha": "0.5"} and got.data.tags["kind"] == kind
    from azuremlcore import Model

    registered = Model(ws, f"matrix-{kind}")
    assert registered.version >= 1 and registered.run_id in (None, run.id)
    if kind == "python-3.8":
        assert run.get_tags()["python"] == "3.8"
        return  # a model pickled on Python 3.8 does not load on this Python: the job loaded it above
    model = mlflow.pyfunc.load_model(f"models:/matrix-{kind}/{registered.version}")
    assert list(model.predict([1, 2])) == [2, 4]
