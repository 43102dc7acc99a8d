"""MLflow Projects on a workspace: ``mlflow.projects.run(uri, backend="azureml", backend_config={...})``.

Registered as the ``azureml`` entry of MLflow's ``mlflow.project_backend`` plugins, as azureml-mlflow's
backend is, so the public examples run unchanged::

    mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
    mlflow.set_experiment("my-exp")
    submitted = mlflow.projects.run(uri=".", parameters={"alpha": 0.3}, backend="azureml",
                                    backend_config={"USE_CONDA": False})
    submitted.run_id          # the workspace run: Run(exp, submitted.run_id), run.get_metrics() ...

The project's entry point becomes a ``ScriptRunConfig`` command submitted to the current MLflow
experiment; the run's id is the MLflow run id, so ``mlflow.log_*`` in the entry point lands there.
``backend_config`` keys: ``COMPUTE`` (a compute target name; default ``local``) and ``USE_CONDA``
(as azureml-mlflow: False = run in this interpreter's environment; True = build the project's conda
environment). The environment, first match wins: ``env_manager="local"`` runs with this interpreter;
``"virtualenv"``/``"uv"`` builds the project's ``python_env.yaml`` (or its conda file) as a cached
virtualenv; ``"conda"`` builds its conda file; with no ``env_manager``, ``USE_CONDA`` decides, and
without that the project's own environment file does (none: this interpreter).
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow.exceptions import ExecutionException, MlflowException
from mlflow.projects.backend.abstract_backend import AbstractBackend
from mlflow.projects.submitted_run import SubmittedRun

if TYPE_CHECKING:
    from azuremlcore import Environment, Experiment, Run, Workspace

_log = logging.getLogger(__name__)

COMPUTE_KEY = "COMPUTE"
USE_CONDA_KEY = "USE_CONDA"
# Keys MLflow's `projects.run` itself puts into backend_config (mlflow.projects.utils.PROJECT_*).
_ENV_MANAGER_KEY = "ENV_MANAGER"
_SYNCHRONOUS_KEY = "SYNCHRONOUS"
_STORAGE_DIR_KEY = "STORAGE_DIR"
_PYTHON_ENV_FILE = "python_env.yaml"

# Workspace run statuses as MLflow's RunStatus names.
_STATUS = {
    "NotStarted": "SCHEDULED", "Queued": "SCHEDULED", "Preparing": "SCHEDULED", "Starting": "SCHEDULED",
    "Provisioning": "SCHEDULED", "Running": "RUNNING", "Finalizing": "RUNNING", "CancelRequested": "RUNNING",
    "Completed": "FINISHED", "Failed": "FAILED", "Canceled": "KILLED",
}


class AzureMLSubmittedRun(SubmittedRun):
    """The workspace run an MLflow project became; ``run_id`` is its id (the MLflow run id too)."""

    def __init__(self, run: "Run", show_output: bool) -> None:
        super().__init__()
        self._run = run
        self._show_output = show_output

    @property
    def run_id(self) -> str:
        """The run's id: the same in the workspace (``Run(exp, run_id)``) and in MLflow."""
        return self._run.id

    @property
    def azureml_run(self) -> "Run":
        """The workspace ``Run`` (``get_metrics()``, ``get_file_names()``, ``wait_for_completion()`` ...)."""
        return self._run

    def wait(self) -> bool:
        """Block until the run ends (streaming its log when the project was run synchronously); True if it completed."""
        details = self._run.wait_for_completion(show_output=self._show_output, raise_on_error=False)
        return details.get("status") == "Completed"

    def get_status(self) -> str:
        """The run's status as an MLflow ``RunStatus`` name (SCHEDULED, RUNNING, FINISHED, FAILED, KILLED)."""
        return _STATUS.get(self._run.get_status(), "RUNNING")

    def cancel(self) -> None:
        """Stop the run and wait until it is recorded as ended."""
        self._run.cancel()


class AzureMLProjectBackend(AbstractBackend):
    """Runs an MLflow project as a run of the current experiment on a workspace's compute."""

    def run(self, project_uri: str, entry_point: str, params: dict[str, Any], version: str | None,
            backend_config: dict[str, Any], tracking_uri: str, experiment_id: str) -> AzureMLSubmittedRun:
        """Submit the project's entry point and return at once (MLflow waits when ``synchronous=True``)."""
        from mlflow.projects.utils import fetch_and_validate_project, load_project

        config = dict(backend_config or {})
        ws = _workspace(tracking_uri)
        experiment = _experiment(ws, experiment_id)
        work_dir = fetch_and_validate_project(project_uri, version, entry_point, params)
        project = load_project(work_dir)
        if project.docker_env:
            raise ExecutionException(
                "This MLproject asks for a docker_env; backend='azureml' runs projects in virtualenvs (or conda, "
                "where installed), not Docker. Give the project a python_env.yaml (or conda.yaml) instead.")
        entry = project.get_entry_point(entry_point)
        storage_dir = config.get(_STORAGE_DIR_KEY)
        command = entry.compute_command(params or {}, storage_dir)
        environment = _environment(project, work_dir, config)
        run_config = _script_run_config(work_dir, command, config.get(COMPUTE_KEY) or "local", environment)
        run = experiment.submit(run_config)
        _record_project(run.id, tracking_uri, project_uri, work_dir, entry_point, entry, params or {})
        return AzureMLSubmittedRun(run, show_output=bool(config.get(_SYNCHRONOUS_KEY, True)))


def _workspace(tracking_uri: str) -> "Workspace":
    from azuremlcore import Workspace
    from azuremlcore._store import open_embedded
    from azuremlmlflow._uri import parse

    try:
        target = parse(tracking_uri or "")
    except ValueError:
        raise ExecutionException(
            f"backend='azureml' runs projects in a workspace, but the MLflow tracking URI is {tracking_uri!r}. "
            "Call mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri()) first.") from None
    if not target.embedded:
        return Workspace(target.subscription_id, target.resource_group, target.workspace_name,
                         _endpoint=target.endpoint)
    store, artifacts = open_embedded(Path(target.home) if target.home else None)
    found = store.find_workspace(target.subscription_id, target.resource_group, target.workspace_name)
    if not found:
        raise ExecutionException(
            f"Workspace '{target.workspace_name}' does not exist in {artifacts.root.parent}: create it with "
            "Workspace.create(..., exist_ok=True) and set the tracking URI from ws.get_mlflow_tracking_uri().")
    return Workspace._from_record(store, artifacts, found[0])


def _experiment(ws: "Workspace", experiment_id: str) -> "Experiment":
    from azuremlcore import Experiment
    from azuremlcore._store.errors import NotFoundError

    if str(experiment_id) == "0":  # MLflow's default experiment; the tracking store names it "Default"
        return Experiment(ws, "Default")
    try:
        return Experiment._from_record(ws, ws._store.get_experiment(ws._ws_id, experiment_id=str(experiment_id)))
    except NotFoundError:
        raise ExecutionException(f"No experiment with id {experiment_id} in workspace '{ws.name}'.") from None


def _environment(project: Any, work_dir: str, config: dict[str, Any]) -> "Environment":
    """The run's Environment: see the module's docstring for the order of the choices."""
    from mlflow.projects import env_type

    manager = config.get(_ENV_MANAGER_KEY)
    spec = project.env_config_path
    if manager is None:
        if USE_CONDA_KEY in config:
            manager = "conda" if _truthy(config[USE_CONDA_KEY]) else "local"
        elif spec is None:
            manager = "local"
        else:
            manager = "conda" if project.env_type == env_type.CONDA else "virtualenv"
    name = f"mlflow-project-{project.name or Path(work_dir).name}"
    if manager == "local":
        return _this_interpreter(name)
    if spec is None:
        raise ExecutionException(
            f"env_manager={manager!r} builds the project's environment, but the project has neither a "
            f"{_PYTHON_ENV_FILE} nor a conda.yaml. Add one, or pass env_manager='local' to use this interpreter.")
    if project.env_type == env_type.CONDA or manager == "conda":
        if project.env_type != env_type.CONDA:
            raise ExecutionException(
                f"env_manager='conda' needs a conda environment file; the project has {Path(spec).name}. "
                "Use env_manager='virtualenv' for it.")
        from azuremlcore import Environment

        return Environment.from_conda_specification(name, spec)
    return _from_python_env(name, Path(spec), Path(work_dir))


def _this_interpreter(name: str) -> "Environment":
    from azuremlcore import Environment

    env = Environment(name)
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = sys.executable
    return env


def _from_python_env(name: str, spec: Path, work_dir: Path) -> "Environment":
    """A virtualenv Environment from MLflow's python_env.yaml (python, build_dependencies, dependencies)."""
    import yaml

    from azuremlcore import Environment
    from azuremlcore.conda_dependencies import CondaDependencies

    try:
        doc = yaml.safe_load(spec.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ExecutionException(f"Cannot read {spec}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ExecutionException(f"{spec} must be a mapping with 'python' and 'dependencies'.")
    packages: list[str] = []
    for line in [*(doc.get("build_dependencies") or []), *(doc.get("dependencies") or [])]:
        packages.extend(_requirement_lines(str(line), spec.parent, work_dir))
    # pip, setuptools and wheel are what MLflow's virtualenv manager installs first; uv needs none of them.
    packages = [p for p in packages if p.split("=")[0].split("<")[0].split(">")[0].strip() not in ("pip", "wheel")]
    python = str(doc.get("python") or f"{sys.version_info.major}.{sys.version_info.minor}")
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(python_version=python, pip_packages=packages)
    return env


def _requirement_lines(line: str, base: Path, work_dir: Path) -> list[str]:
    line = line.strip()
    if line.startswith(("-r ", "--requirement ")):
        path = (base / line.split(None, 1)[1].strip()).resolve()
        if not path.is_relative_to(work_dir.resolve()) or not path.is_file():
            raise ExecutionException(f"python_env.yaml names requirements file {path}, which is not in the project.")
        found: list[str] = []
        for sub in path.read_text().splitlines():
            sub = sub.split("#", 1)[0].strip()
            if sub:
                found.extend(_requirement_lines(sub, path.parent, work_dir))
        return found
    return [line] if line and not line.startswith("#") else []


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y")
    return bool(value)


def _script_run_config(work_dir: str, command: str, compute: str, environment: "Environment") -> Any:
    from azuremlcore import ScriptRunConfig

    return ScriptRunConfig(source_directory=work_dir, command=command, compute_target=compute,
                           environment=environment)


def _record_project(run_id: str, tracking_uri: str, project_uri: str, work_dir: str, entry_point: str,
                    entry: Any, params: dict[str, Any]) -> None:
    """The tags and params MLflow's own local backend records for a project run."""
    from mlflow.entities import Param, RunTag
    from mlflow.tracking import MlflowClient
    from mlflow.utils import mlflow_tags

    source = project_uri if "://" in project_uri else os.path.abspath(os.path.expanduser(project_uri))
    tags = {mlflow_tags.MLFLOW_SOURCE_NAME: source, mlflow_tags.MLFLOW_SOURCE_TYPE: "PROJECT",
            mlflow_tags.MLFLOW_PROJECT_ENTRY_POINT: entry_point}
    final, extra = entry.compute_parameters(params, storage_dir=None)
    client = MlflowClient(tracking_uri)
    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    try:
        client.log_batch(run_id, params=[Param(k, str(v)) for k, v in {**final, **extra}.items()])
    except MlflowException as exc:
        # The entry point runs already and may have logged a parameter its own way (0.3 for "0.30"):
        # its value stands; MLflow's own backend would have failed the script instead.
        _log.warning("Parameters of project run %s were not all recorded: %s", run_id, exc.message)

