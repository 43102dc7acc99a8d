"""``ScriptRunConfig``: a script (or command) in a source directory, with where and in what environment to run it.

Mirrors ``azureml.core.ScriptRunConfig``; pass it to ``Experiment.submit``. Without ``compute_target``
the run is local; without ``environment`` it uses the run configuration's environment (by default a
system-managed one named "default-environment").
"""
from __future__ import annotations

import os
from typing import Any

from azuremlcore.environment import Environment
from azuremlcore.exceptions import UserErrorException
from azuremlcore.runconfig import RunConfiguration, _target_name

__all__ = ["ScriptRunConfig"]


class ScriptRunConfig:
    """What to run (``script`` + ``arguments``, or ``command``) from ``source_directory``, and how (``run_config``).

    ``arguments`` are kept exactly as given (numbers and dataset handles included). ``compute_target`` may be
    a name ("local", "cpu-cluster") or a compute target object. The script must exist in ``source_directory``.
    """

    MAX_DURATION_SECONDS_DEFAULT: int = 2592000
    DELIM: str = ";"

    def __init__(self, source_directory: str | os.PathLike[str], script: str | None = None,
                 arguments: list[Any] | None = None, run_config: RunConfiguration | None = None,
                 _telemetry_values: dict[str, Any] | None = None, compute_target: Any = None,
                 environment: Environment | None = None, distributed_job_config: Any = None,
                 resume_from: Any = None, max_run_duration_seconds: int | None = MAX_DURATION_SECONDS_DEFAULT,
                 command: str | list[str] | None = None, docker_runtime_config: Any = None) -> None:
        """Check the script/command and fold the other arguments into ``self.run_config`` (a RunConfiguration)."""
        if source_directory is None:
            raise UserErrorException("ScriptRunConfig needs source_directory (the folder to snapshot and run from).")
        self.source_directory: str = os.fspath(source_directory)
        if script is not None and command is not None:
            raise UserErrorException("Pass either script or command to ScriptRunConfig, not both.")
        if command is not None and arguments:
            raise UserErrorException("With command=, put the arguments inside the command instead of arguments=.")
        if not os.path.isdir(self.source_directory):
            raise UserErrorException(f"source_directory {self.source_directory!r} is not a directory "
                                     f"(relative paths start at {os.getcwd()!r}).")
        if script is not None:
            script = os.fspath(script)
            full = script if os.path.isabs(script) else os.path.join(self.source_directory, script)
            if not os.path.isfile(full):
                raise UserErrorException(f"Script {script!r} not found in source_directory "
                                         f"{os.path.abspath(self.source_directory)!r}. The script path is relative "
                                         "to source_directory.")
            if os.path.isabs(script):
                rel = os.path.relpath(script, self.source_directory)
                if rel.startswith(os.pardir):
                    raise UserErrorException(f"Script {script!r} is outside source_directory "
                                             f"{self.source_directory!r}; only that folder is snapshotted.")
                script = rel
        self.script: str | None = script
        self.command: str | list[str] | None = command
        self.arguments: list[Any] = arguments if arguments is not None else []
        self._telemetry_values = _telemetry_values
        self.run_config: RunConfiguration = run_config if run_config is not None else RunConfiguration()
        if script is not None or command is not None:
            self.run_config.script = script
            self.run_config.command = command
        elif self.run_config.script is not None and arguments is None:
            # a RunConfiguration that already names the script keeps its own arguments
            self.arguments = self.run_config.arguments
            self.script = self.run_config.script
        self.run_config.arguments = self.arguments
        if compute_target is not None:
            self.run_config.target = _target_name(compute_target)
        if environment is not None:
            self.run_config.environment = environment
        if distributed_job_config is not None:
            self.run_config._apply_distributed(distributed_job_config)
        if docker_runtime_config is not None:
            self.run_config.docker = docker_runtime_config
        if max_run_duration_seconds is not None:
            self.run_config.max_run_duration_seconds = max_run_duration_seconds
        self.distributed_job_config = distributed_job_config
        self.resume_from = resume_from

    @property
    def identity(self) -> Any:
        """The identity the run uses to access resources (None: the user's own)."""
        return self.run_config.identity

    @identity.setter
    def identity(self, value: Any) -> None:
        self.run_config.identity = value

    @property
    def environment(self) -> Environment:
        """Shortcut for ``run_config.environment``."""
        return self.run_config.environment

    @property
    def compute_target(self) -> str:
        """Shortcut for ``run_config.target``."""
        return self.run_config.target

    def __repr__(self) -> str:
        what = f"script={self.script!r}" if self.script is not None else f"command={self.command!r}"
        return (f"ScriptRunConfig(source_directory={self.source_directory!r}, {what}, arguments={self.arguments!r}, "
                f"target={self.run_config.target!r}, environment={self.run_config.environment.name!r})")
