"""What a job finds in its environment: the SDK as an installed distribution, the Python it asked for, its
build log streamed; and what submit() refuses before a run exists."""
from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from azuremlcore import Environment, ScriptRunConfig
from azuremlcore.conda_dependencies import CondaDependencies
from azuremlcore.exceptions import UserErrorException


def _src(tmp_path: Path, script: str) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "train.py").write_text(textwrap.dedent(script))
    return src


def _env(name: str, python: str | None = None, pip: tuple[str, ...] = ()) -> Environment:
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(python_version=python, pip_packages=list(pip))
    return env


def _log(run: Any) -> str:
    return run._artifacts.read_from(run._container, "user_logs/std_log.txt", 0).decode("utf-8", "replace")


def test_fallback_entry_points_match_setup_cfg() -> None:
    import configparser

    from azuremlcore._environments._sdk_link import FALLBACK_ENTRY_POINTS

    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    declared = {group: dict(line.split(" = ", 1) for line in cfg["options.entry_points"][group].strip().splitlines())
                for group in cfg["options.entry_points"] if group.startswith("mlflow.")}
    assert declared == FALLBACK_ENTRY_POINTS


@pytest.mark.slow
def test_built_env_has_the_sdk_as_an_installed_distribution(azuremlcore_home: Path) -> None:
    from azuremlcore._environments import materialise

    menv = materialise(_env("bare"))
    probe = ("import importlib.metadata as m, azuremlcore; d = m.distribution('amlcore-open'); "
             "print(d.version); print(sorted(e.group for e in d.entry_points)); print(azuremlcore.__file__)")
    out = subprocess.run([str(menv.python), "-c", probe], capture_output=True, text=True, check=True,
                         cwd=str(azuremlcore_home)).stdout.splitlines()
    import azuremlcore

    assert out[0] == azuremlcore.__version__
    assert "mlflow.tracking_store" in out[1] and "mlflow.artifact_repository" in out[1]
    assert Path(out[2]).resolve() == Path(azuremlcore.__file__).resolve()  # the submitting SDK's own code


def test_submit_refuses_a_python_older_than_jobs_support(experiment: Any, tmp_path: Path) -> None:
    src = _src(tmp_path, "print('never')\n")
    with pytest.raises(UserErrorException, match=r"asks for Python 3\.6.*3\.8 or newer"):
        experiment.submit(ScriptRunConfig(source_directory=str(src), script="train.py", environment=_env("old", "3.6")))
    assert list(experiment.get_runs()) == []  # nothing was created


def test_submit_refuses_a_python_that_cannot_be_had(experiment: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZUREMLCORE_PYTHON_DOWNLOADS", "never")
    src = _src(tmp_path, "print('never')\n")
    with pytest.raises(UserErrorException, match=r"Python 3\.99 is not installed.*downloads are off"):
        experiment.submit(ScriptRunConfig(source_directory=str(src), script="train.py", environment=_env("x", "3.99")))
    assert list(experiment.get_runs()) == []


def test_submit_refuses_an_mlflow_the_bridge_cannot_serve(experiment: Any, tmp_path: Path) -> None:
    src = _src(tmp_path, "import mlflow\n")
    with pytest.raises(UserErrorException, match=r"'mlflow==1\.30\.0' can only install MLflow older than 2\.10"):
        experiment.submit(ScriptRunConfig(source_directory=str(src), script="train.py",
                                          environment=_env("old-mlflow", pip=("mlflow==1.30.0",))))
    assert list(experiment.get_runs()) == []


def test_mlflow_companions_are_added(azuremlcore_home: Path) -> None:
    from azuremlcore._environments._materialise import _plan

    res = _plan(_env("skinny-sklearn", pip=("azureml-mlflow", "scikit-learn")))[0]
    assert "skops" in res.requirements  # MLflow 3 saves sklearn models with skops; mlflow-skinny lacks it
    old = _plan(_env("old-skinny", pip=("mlflow-skinny==2.10.2",)))[0]
    assert "setuptools<81" in old.requirements  # MLflow before 2.16 imports pkg_resources


def test_submit_refuses_docker_only_and_missing_interpreters(experiment: Any, tmp_path: Path) -> None:
    src = _src(tmp_path, "print('never')\n")
    docker = Environment("img")
    docker.docker.base_image = "myregistry.azurecr.io/train:1"  # Azure ML base images are accepted: not this
    docker.python.conda_dependencies = None
    with pytest.raises(UserErrorException, match="Docker is not available"):
        experiment.submit(ScriptRunConfig(source_directory=str(src), script="train.py", environment=docker))
    managed = Environment("mine")
    managed.python.user_managed_dependencies = True
    managed.python.interpreter_path = str(tmp_path / "no-such-python")
    with pytest.raises(UserErrorException, match="does not exist"):
        experiment.submit(ScriptRunConfig(source_directory=str(src), script="train.py", environment=managed))
    assert list(experiment.get_runs()) == []


@pytest.mark.slow
def test_user_managed_script_runs_as_python_would(experiment: Any, tmp_path: Path) -> None:
    src = _src(tmp_path, """\
        import os, sys
        print("argv", sys.argv)
        print("name", __name__)
        print("path0", sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
        print("hook-var-left", "_AZUREMLCORE_JOB_MAIN" in os.environ)
        print("alias", os.environ.get("AZUREMLCORE_AZUREML_ALIAS"))
    """)
    env = Environment("um")
    env.python.user_managed_dependencies = True
    run = experiment.submit(ScriptRunConfig(source_directory=str(src), script="train.py", arguments=["--a", 1],
                                            environment=env))
    run.wait_for_completion()
    log = _log(run)
    assert "argv ['train.py', '--a', '1']" in log
    assert "name __main__" in log and "path0 True" in log
    assert "hook-var-left False" in log  # the job hook ran and took its variable away from children
    assert "alias 1" in log


@pytest.mark.slow
def test_build_output_streams_and_is_kept(experiment: Any, tmp_path: Path) -> None:
    src = _src(tmp_path, "import six; print('six', six.__version__)\n")
    run = experiment.submit(ScriptRunConfig(source_directory=str(src), script="train.py",
                                            environment=_env("with-six", pip=("six",))))
    shown = io.StringIO()
    with redirect_stdout(shown):
        run.wait_for_completion(show_output=True)
    text = shown.getvalue()
    build = text.index("Streaming azureml-logs/20_image_build_log.txt")
    assert build < text.index("Building environment") < text.index("+ six==") < text.index("six 1.")
    kept = run._artifacts.read_from(run._container, "azureml-logs/20_image_build_log.txt", 0).decode()
    assert "+ six==" in kept and "Built environment" in kept


@pytest.mark.slow
def test_job_on_python_38(experiment: Any, tmp_path: Path) -> None:
    from azuremlcore._environments._materialise import EnvironmentBuildError, find_interpreter

    try:
        find_interpreter("3.8")
    except EnvironmentBuildError:
        pytest.skip(reason="no Python 3.8 on this machine")
    src = _src(tmp_path, """\
        import sys
        from azuremlcore import Run
        run = Run.get_context()
        for i in range(3):
            run.log("loss", 1.0 / (i + 1))
        run.log_row("roc", fpr=0.1, tpr=0.7)
        run.tag("python", "%d.%d" % sys.version_info[:2])
    """)
    run = experiment.submit(ScriptRunConfig(source_directory=str(src), script="train.py",
                                            environment=_env("py38", "3.8")))
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Completed", _log(run)
    assert run.get_tags()["python"] == "3.8"
    assert run.get_metrics() == {"loss": [1.0, 0.5, 1.0 / 3], "roc": {"fpr": 0.1, "tpr": 0.7}}
    assert sys.version_info[:2] != (3, 8)  # the job ran on another Python than the test
