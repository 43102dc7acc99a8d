"""``RunConfiguration``: everything about how a script runs (target, environment, variables, distribution).

Mirrors ``azureml.core.runconfig``. Defaults as in Azure ML: target ``"local"``, framework ``"Python"``,
communicator ``"None"``, ``node_count`` 1, a system-managed environment. ``save``/``load`` use
``<dir>/.azureml/<name>.runconfig`` (YAML).
"""
from __future__ import annotations

import json
import os
from typing import Any

from azuremlcore.conda_dependencies import CondaDependencies
from azuremlcore.environment import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, Environment
from azuremlcore.exceptions import UserErrorException

__all__ = ["RunConfiguration", "DockerConfiguration", "CondaDependencies", "MpiConfiguration",
           "PyTorchConfiguration", "TensorflowConfiguration", "DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE"]

_DEFAULT_ENV_NAME = "default-environment"


class DockerConfiguration:
    """Docker settings of a run (``use_docker``, ``arguments``, ``shared_volumes``, ``shm_size``); stored only, Docker is not used locally."""

    def __init__(self, use_docker: bool | None = None, arguments: list[str] | None = None,
                 shared_volumes: bool | None = None, shm_size: str | None = None) -> None:
        """Store the settings; ``use_docker=True`` is accepted and the run still executes in a local virtualenv."""
        self.use_docker = bool(use_docker) if use_docker is not None else False
        self.arguments = list(arguments or [])
        self.shared_volumes = True if shared_volumes is None else bool(shared_volumes)
        self.shm_size = shm_size

    def _to_dict(self) -> dict[str, Any]:
        return {"useDocker": self.use_docker, "arguments": self.arguments, "sharedVolumes": self.shared_volumes,
                "shmSize": self.shm_size}

    def __repr__(self) -> str:
        return f"DockerConfiguration({self._to_dict()!r})"


class _Distributed:
    """Distributed job settings (``process_count``, ``node_count``) recorded on the run configuration."""

    _framework = "Python"
    _communicator = "None"

    def __init__(self, process_count_per_node: int = 1, node_count: int = 1, process_count: int | None = None,
                 **kwargs: Any) -> None:
        """Record the process layout (local runs start one process per node per count)."""
        self.process_count_per_node = process_count_per_node
        self.node_count = node_count
        self.process_count = process_count
        for key, value in kwargs.items():
            setattr(self, key, value)


class MpiConfiguration(_Distributed):
    """MPI job settings (``process_count_per_node``, ``node_count``)."""

    _communicator = "IntelMpi"


class PyTorchConfiguration(_Distributed):
    """PyTorch distributed settings (``communication_backend`` 'Nccl', ``process_count``, ``node_count``)."""

    _framework = "PyTorch"
    _communicator = "Nccl"

    def __init__(self, communication_backend: str = "Nccl", process_count: int | None = None, node_count: int = 1) -> None:
        """Record the backend and process layout."""
        super().__init__(node_count=node_count, process_count=process_count)
        self.communication_backend = communication_backend
        self._communicator = communication_backend


class TensorflowConfiguration(_Distributed):
    """TensorFlow parameter-server settings (``worker_count``, ``parameter_server_count``)."""

    _framework = "TensorFlow"
    _communicator = "ParameterServer"

    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1) -> None:
        """Record the worker layout."""
        super().__init__(node_count=worker_count)
        self.worker_count = worker_count
        self.parameter_server_count = parameter_server_count


def _target_name(target: Any) -> str:
    if target is None:
        return "local"
    if isinstance(target, str):
        return target
    name = getattr(target, "name", None)
    if not isinstance(name, str):
        raise UserErrorException(f"A compute target must be a name or an object with .name, got {type(target).__name__}.")
    return name


class RunConfiguration:
    """How a script runs: ``target`` ("local"), ``environment``, ``environment_variables``, ``node_count``, ``framework``...

    ``conda_dependencies`` (a CondaDependencies) becomes ``environment.python.conda_dependencies``.
    Set ``run_config.environment = env`` or ``run_config.target = "cpu-cluster"`` after construction as usual.
    """

    def __init__(self, script: str | None = None, arguments: list[Any] | None = None, framework: str | None = None,
                 communicator: str | None = None, conda_dependencies: CondaDependencies | None = None,
                 _history_enabled: bool | None = None, _path: str | None = None, _name: str | None = None,
                 command: str | list[str] | None = None) -> None:
        """Default settings: local target, Python framework, a system-managed environment called "default-environment"."""
        self.script = script
        self.arguments: list[Any] = list(arguments) if arguments is not None else []
        self.command: str | list[str] | None = command
        self.framework = framework or "Python"
        self.communicator = communicator or "None"
        self._target = "local"
        self.node_count = 1
        self.max_run_duration_seconds: int | None = None
        self.priority: int | None = None
        self.credential_passthrough = False
        self.identity: Any = None
        self.instance_type: str | None = None
        self.environment = Environment(_DEFAULT_ENV_NAME)
        if conda_dependencies is not None:
            self.environment.python.conda_dependencies = conda_dependencies
        self._environment_variables: dict[str, str] = {}
        self.docker = DockerConfiguration()
        self.history_enabled = True if _history_enabled is None else bool(_history_enabled)
        self.data_references: dict[str, Any] = {}
        self.data: dict[str, Any] = {}
        self.output_data: dict[str, Any] = {}
        self.datacaches: list[Any] = []
        self.source_directory_data_store: str | None = None
        self.amlcompute: Any = None
        self.services: dict[str, Any] = {}
        self.mpi: Any = None
        self.pytorch: Any = None
        self.tensorflow: Any = None
        self.distributed_job_config: Any = None
        self._auto_prepare_environment = True
        self._path = _path
        self._name = _name

    # ----------------------------------------------------------------- properties
    @property
    def target(self) -> str:
        """The compute target's name ("local" = this machine); assign a name or a compute target object."""
        return self._target

    @target.setter
    def target(self, value: Any) -> None:
        self._target = _target_name(value)

    @property
    def environment_variables(self) -> dict[str, str]:
        """Variables set in the run's process (on top of the environment's own)."""
        return self._environment_variables

    @environment_variables.setter
    def environment_variables(self, value: dict[str, str] | None) -> None:
        self._environment_variables = dict(value or {})

    @property
    def auto_prepare_environment(self) -> bool:
        """DEPRECATED and unused (environments are always prepared)."""
        return self._auto_prepare_environment

    @auto_prepare_environment.setter
    def auto_prepare_environment(self, value: bool) -> None:
        self._auto_prepare_environment = bool(value)

    def _apply_distributed(self, config: Any) -> None:
        """Record a distributed job config (MpiConfiguration, PyTorchConfiguration, ...) the way Azure ML does."""
        self.distributed_job_config = config
        if config is None:
            return
        self.framework = getattr(config, "_framework", self.framework)
        self.communicator = getattr(config, "_communicator", self.communicator)
        self.node_count = int(getattr(config, "node_count", 1) or 1)
        kind = type(config).__name__
        if kind.startswith("Mpi"):
            self.mpi = config
        elif kind.startswith("PyTorch"):
            self.pytorch = config
        elif kind.startswith("Tensorflow"):
            self.tensorflow = config

    # ----------------------------------------------------------------- serialisation
    def _to_dict(self) -> dict[str, Any]:
        """A JSON-able copy of the settings (the environment as in ``Environment._to_dict``)."""
        return {
            "script": self.script, "arguments": [a if isinstance(a, (str, int, float, bool)) or a is None else str(a)
                                                 for a in self.arguments],
            "command": self.command, "framework": self.framework, "communicator": self.communicator,
            "target": self.target, "nodeCount": self.node_count, "maxRunDurationSeconds": self.max_run_duration_seconds,
            "priority": self.priority, "credentialPassthrough": self.credential_passthrough,
            "instanceType": self.instance_type, "environmentVariables": dict(self.environment_variables),
            "environment": self.environment._to_dict() if self.environment is not None else None,
            "docker": self.docker._to_dict(), "history": {"outputCollection": self.history_enabled},
            "sourceDirectoryDataStore": self.source_directory_data_store,
        }

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> "RunConfiguration":
        rc = cls(script=data.get("script"), arguments=data.get("arguments") or [], framework=data.get("framework"),
                 communicator=data.get("communicator"), command=data.get("command"))
        rc.target = data.get("target") or "local"
        rc.node_count = int(data.get("nodeCount") or 1)
        rc.max_run_duration_seconds = data.get("maxRunDurationSeconds")
        rc.priority = data.get("priority")
        rc.credential_passthrough = bool(data.get("credentialPassthrough", False))
        rc.instance_type = data.get("instanceType")
        rc.environment_variables = data.get("environmentVariables") or {}
        if data.get("environment") is not None:
            rc.environment = Environment._from_dict(data["environment"])
        dk = data.get("docker") or {}
        rc.docker = DockerConfiguration(use_docker=dk.get("useDocker"), arguments=dk.get("arguments"),
                                        shared_volumes=dk.get("sharedVolumes"), shm_size=dk.get("shmSize"))
        rc.history_enabled = bool((data.get("history") or {}).get("outputCollection", True))
        rc.source_directory_data_store = data.get("sourceDirectoryDataStore")
        return rc

    @staticmethod
    def _file_for(path: str | None, name: str | None, for_write: bool) -> str:
        base = os.fspath(path) if path is not None else os.getcwd()
        if name is None and (base.endswith(".runconfig") or os.path.isfile(base)):
            return base
        if name is None:
            raise UserErrorException("Pass name= (the run configuration's name) or a path to a .runconfig file.")
        filename = name if name.endswith(".runconfig") else f"{name}.runconfig"
        if not for_write:
            for sub in (".azureml", "aml_config", ""):
                candidate = os.path.join(base, sub, filename)
                if os.path.isfile(candidate):
                    return candidate
            raise UserErrorException(f"No run configuration {filename!r} in {base}/.azureml, {base}/aml_config or {base}.")
        return os.path.join(base, ".azureml", filename)

    def save(self, path: str | None = None, name: str | None = None, separate_environment_yaml: bool = False) -> None:
        """Write ``<path>/.azureml/<name>.runconfig`` (or to ``path`` when it is a file name ending in .runconfig).

        With ``separate_environment_yaml=True`` the conda file is written next to it as ``<name>_dependencies.yml``.
        """
        name = name or self._name
        target = self._file_for(path if path is not None else self._path, name, for_write=True)
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        data = self._to_dict()
        cd = self.environment.python.conda_dependencies if self.environment is not None else None
        if separate_environment_yaml and cd is not None:
            stem = os.path.splitext(os.path.basename(target))[0]
            conda_file = f"{stem}_dependencies.yml"
            cd.save(os.path.join(os.path.dirname(os.path.abspath(target)), conda_file))
            data["environment"]["python"]["condaDependencies"] = None
            data["environment"]["python"]["condaDependenciesFile"] = conda_file
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(_dump(data))
        self._path, self._name = path, name

    @staticmethod
    def load(path: str, name: str | None = None) -> "RunConfiguration":
        """Load a run configuration saved by :meth:`save` (``path`` = project dir with ``name``, or the file itself)."""
        source = RunConfiguration._file_for(path, name, for_write=False)
        with open(source, encoding="utf-8") as fh:
            data = _load(fh.read())
        env = data.get("environment") or {}
        py = env.get("python") or {}
        conda_file = py.get("condaDependenciesFile")
        if py.get("condaDependencies") is None and conda_file:
            full = conda_file if os.path.isabs(conda_file) else os.path.join(os.path.dirname(source), conda_file)
            if os.path.isfile(full):
                py["condaDependencies"] = CondaDependencies(conda_dependencies_file_path=full).as_dict()
        rc = RunConfiguration._from_dict(data)
        rc._path, rc._name = path, name
        return rc

    @staticmethod
    def delete(path: str, name: str) -> None:
        """Delete a saved run configuration file."""
        source = RunConfiguration._file_for(path, name, for_write=False)
        os.remove(source)

    def __repr__(self) -> str:
        return json.dumps(self._to_dict(), indent=2, default=str)


def _dump(data: dict[str, Any]) -> str:
    try:
        import yaml  # readable output when PyYAML is there; JSON (valid YAML) otherwise

        return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    except ImportError:
        return json.dumps(data, indent=2) + "\n"


def _load(text: str) -> dict[str, Any]:
    try:
        import yaml

        return yaml.safe_load(text) or {}
    except ImportError:
        return json.loads(text)
