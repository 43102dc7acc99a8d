"""The bridge under the MLflow versions users' environments ask for: 2.10 to the newest 3.x, Python 3.8 to 3.12.

Each case is a scratch venv (tests/mlflow_venvs.py; built with uv once, then cached) running a plain
MLflow script (tests/mlflow_scripts/plain_mlflow.py) against an embedded workspace and a server
workspace (`aml server`, signed in with a saved login only), in one process per case. What it logged
is then read back through azuremlcore.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest_server import LiveServer
from mlflow_venvs import REPO, Case, venv_python

pytestmark = pytest.mark.slow

SUB, RG = "00000000-0000-0000-0000-0000000000bb", "rg"
SCRIPT = Path(__file__).parent / "mlflow_scripts" / "plain_mlflow.py"
CASES = [
    Case("mlflow-skinny-2.10-py3.10", "3.10", "mlflow-skinny==2.10.*"),
    Case("mlflow-skinny-2.17-py3.8", "3.8", "mlflow-skinny==2.17.2"),  # what uv resolves on Python 3.8
    Case("mlflow-skinny-2.x-py3.11", "3.11", "mlflow-skinny<3"),
    Case("mlflow-2.x-py3.10", "3.10", "mlflow<3"),  # full MLflow (its own SQL store, server, ...) beside the bridge
    Case("mlflow-skinny-3.0-py3.11", "3.11", "mlflow-skinny==3.0.*", ("skops",)),
    Case("mlflow-skinny-3.x-py3.12", "3.12", "mlflow-skinny", ("skops",)),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One `aml server` for the module's cases."""
    live = LiveServer(tmp_path_factory.mktemp("server"))
    yield live
    live.stop()


@pytest.fixture
def workspaces(server: LiveServer, workspace: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """(embedded workspace, server workspace); the server one is reached with `aml login`'s saved token only."""
    from azuremlcore import Workspace
    from azuremlcore.authentication import save_login

    save_login(server.url, server.token(f"user-{id(workspace)}", "Contributor", f"/subscriptions/{SUB}"))
    monkeypatch.setenv("AZUREMLCORE_ENDPOINT", server.url)
    remote = Workspace.create(f"matrix-{id(workspace)}", subscription_id=SUB, resource_group=RG, exist_ok=True,
                              show_output=False)
    monkeypatch.delenv("AZUREMLCORE_ENDPOINT")
    return workspace, remote


def _uv() -> str:
    import uv

    return uv.find_uv_bin()


def _run_script(python: Path, out: Path, uris: list[str], home: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AZUREML_")) and k not in (
        "AZUREMLCORE_TOKEN", "AZUREMLCORE_ENDPOINT", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(AZUREMLCORE_HOME=str(home), PYTHONPATH=str(REPO))
    proc = subprocess.run([str(python), str(SCRIPT), str(out), *uris], env=env, capture_output=True, text=True,
                          timeout=600, cwd=str(out.parent))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plain_mlflow_script_under_each_version(case: Case, workspaces: tuple[Any, Any], tmp_path: Path,
                                                azuremlcore_home: Path) -> None:
    from azuremlcore import Experiment, Run
    from azuremlcore.model import Model

    try:
        python = venv_python(case, _uv())
    except ValueError as exc:
        pytest.skip(reason=str(exc))
    got = _run_script(python, tmp_path / "result.json", [ws.get_mlflow_tracking_uri() for ws in workspaces],
                      azuremlcore_home)
    assert got["python"] == case.python
    for ws, seen in zip(workspaces, got["workspaces"]):
        where = f"{case.id} on {'a server' if getattr(ws, '_endpoint', None) else 'an embedded'} workspace"
        run = Run(Experiment(ws, "matrix"), seen["run_id"])
        assert run.get_metrics()["loss"] == [1.0, 0.5, 1.0 / 3], where
        assert run.get_tags()["kind"] == "matrix", where
        assert run._refresh().params == {"alpha": "0.5"}, where
        files = run.get_file_names()
        assert {"docs/note.txt", "cfg/d.json"} <= set(files), where
        assert seen["searched"][0] == run.id and seen["downloaded"] == "hello", where
        assert {"docs", "cfg"} <= set(seen["listed"]), where
        if getattr(ws, "_endpoint", None):
            assert seen["artifact_uri"].startswith("azureml://"), where
        assert seen["predicted_from_run"] == pytest.approx(6.0) and seen["predicted_from_registry"] == pytest.approx(6.0)
        model = Model(ws, "matrix-model")
        assert str(model.version) == seen["registered"] and model.run_id == run.id, where
        if got["mlflow"].startswith("2."):
            assert "model/MLmodel" in files, where  # MLflow 2 keeps models in the run's files
