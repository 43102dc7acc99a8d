"""Shared fixtures: every test gets its own AZUREMLCORE_HOME and working folder."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import pytest


@pytest.fixture(autouse=True)
def azuremlcore_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh embedded home for each test, so tests never share or touch ~/.azuremlcore."""
    home = tmp_path / "home"
    monkeypatch.setenv("AZUREMLCORE_HOME", str(home))
    # A missing interpreter is never fetched in tests: uv's download would wait on a closed network.
    monkeypatch.setenv("AZUREMLCORE_PYTHON_DOWNLOADS", "never")
    for var in ("AZUREML_RUN_ID", "AZUREML_ARM_WORKSPACE_NAME", "AZUREML_SERVICE_ENDPOINT", "AZUREML_RUN_TOKEN",
                "AZUREML_RUN_TOKEN_FILE", "AZUREMLCORE_ENDPOINT", "MLFLOW_TRACKING_TOKEN", "MLFLOW_RUN_ID",
                "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh current folder (config files, downloads and ./outputs land here)."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    yield folder


@pytest.fixture
def workspace(azuremlcore_home: Path, workdir: Path):  # type: ignore[no-untyped-def]
    """An embedded Workspace in the test's own home."""
    from azuremlcore import Workspace

    return Workspace.create(name="ws1", subscription_id="00000000-0000-0000-0000-000000000001",
                            resource_group="rg", exist_ok=True, show_output=False)


@pytest.fixture
def experiment(workspace):  # type: ignore[no-untyped-def]
    """An experiment named 'exp' in the test workspace."""
    from azuremlcore import Experiment

    return Experiment(workspace, "exp")


@pytest.fixture
def mlflow_ws(workspace):  # type: ignore[no-untyped-def]
    """The test workspace as MLflow's tracking (and registry) URI; MLflow's process-wide state is reset after."""
    mlflow = pytest.importorskip("mlflow")
    mlflow.set_tracking_uri(workspace.get_mlflow_tracking_uri())
    yield workspace
    while mlflow.active_run() is not None:
        mlflow.end_run()
    import mlflow.tracking.fluent as fluent

    if hasattr(fluent, "_active_experiment_id"):
        fluent._active_experiment_id = None
    mlflow.set_tracking_uri(None)


def pytest_configure(config: pytest.Config) -> None:
    # Child processes started by tests import azuremlcore from this checkout.
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")


@pytest.fixture
def submit_script(experiment, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Submit a script (text) with arguments in a user-managed environment (no build); returns the run.

    `submit_script(text, *args, max_run_duration_seconds=None)`: the script is written as `job.py`
    in a fresh source folder and runs with this interpreter.
    """
    import textwrap

    from azuremlcore import Environment, ScriptRunConfig

    count = iter(range(1_000_000))

    def submit(text: str, *args: str, **config):  # type: ignore[no-untyped-def]
        src = tmp_path / f"src{next(count)}"
        src.mkdir()
        (src / "job.py").write_text(textwrap.dedent(text))
        env = Environment("user-managed")
        env.python.user_managed_dependencies = True
        return experiment.submit(ScriptRunConfig(source_directory=str(src), script="job.py", arguments=list(args),
                                                 environment=env, **config))

    return submit


@pytest.fixture
def wait_until():  # type: ignore[no-untyped-def]
    """`wait_until(predicate, timeout=60, what=...)`: poll every 20 ms until predicate() is truthy (returned)."""
    import time

    def wait(predicate, timeout: float = 60.0, what: str = "condition"):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not reached within {timeout} s")
            time.sleep(0.02)

    return wait


@pytest.fixture
def postgres_database() -> Iterator[Callable[[str], str]]:
    """`make(prefix)`: the SQLAlchemy URL of a new, empty PostgreSQL database, dropped after the test.

    The cluster is $AZUREMLCORE_TEST_POSTGRES_URL (see .ci/start-postgres.sh); without it the test
    skips, except in CI, where it fails.
    """
    base = os.environ.get("AZUREMLCORE_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("CI must test PostgreSQL: set AZUREMLCORE_TEST_POSTGRES_URL (.ci/start-postgres.sh)")
        pytest.skip(reason="no PostgreSQL: set AZUREMLCORE_TEST_POSTGRES_URL (see .ci/start-postgres.sh)")
    import uuid

    import sqlalchemy as sa

    admin_url = "postgresql+psycopg://" + base.split("://", 1)[1]
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        made.append(name)
        return admin_url.rsplit("/", 1)[0] + "/" + name

    yield make
    with admin.connect() as conn:
        for name in made:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()
