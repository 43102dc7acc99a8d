"""``Environment``: the Python (and, on Azure, Docker) environment a run executes in.

Mirrors ``azureml.core.environment``. On this SDK a system-managed environment
(``python.user_managed_dependencies = False``, the default) becomes a cached local virtualenv built
with uv from its conda file: pip packages and conda packages that have a PyPI twin are installed;
conda-only packages need conda on PATH. A user-managed environment runs with
``python.interpreter_path`` (or this interpreter). Docker is not used: an environment defined by a
Dockerfile or a non-Azure-ML base image is stored and registered, but running it locally needs
``user_managed_dependencies = True``.
"""
from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from typing import TYPE_CHECKING, Any, Iterable

from azuremlcore._environments.spec import DEFAULT_CPU_IMAGE, env_spec
from azuremlcore.conda_dependencies import CondaDependencies
from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:  # pragma: no cover
    from azuremlcore._environments._materialise import MaterialisedEnv

__all__ = ["Environment", "PythonSection", "DockerSection", "CondaDependencies", "DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE"]

DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04"

_ENV_JSON = "azureml_environment.json"
_CONDA_YML = "conda_dependencies.yml"
_DOCKERFILE = "BaseDockerfile"
_ASSET_KIND = "environment"
_LABELS_PROPERTY = "azuremlcore.labels"
_RESERVED_PREFIXES = ("azureml-", "azureml_")


class _Section:
    """Shared plumbing: keyword construction with known attributes only, equality, repr."""

    _fields: dict[str, Any] = {}

    def __init__(self, **kwargs: Any) -> None:
        for key, default in self._fields.items():
            setattr(self, key, copy.deepcopy(default))
        for key, value in kwargs.items():
            setattr(self, key, value)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items() if not k.startswith("_"))
        return f"{type(self).__name__}({inner})"


class PythonSection(_Section):
    """The Python part of an Environment.

    ``user_managed_dependencies`` (default False): False = this SDK builds a virtualenv from
    ``conda_dependencies``; True = run with ``interpreter_path`` as is (default ``"python"``, which
    means the interpreter running this SDK). ``conda_dependencies`` defaults to ``CondaDependencies()``
    (python of this interpreter + ``azureml-defaults``).
    """

    _fields = {"interpreter_path": "python", "user_managed_dependencies": False, "base_conda_environment": None}

    def __init__(self, **kwargs: Any) -> None:
        """Accepts ``interpreter_path``, ``user_managed_dependencies``, ``conda_dependencies``, ``base_conda_environment``."""
        self.conda_dependencies: CondaDependencies | None = kwargs.pop("conda_dependencies", None) or CondaDependencies()
        self._conda_dependencies_file: str | None = kwargs.pop("conda_dependencies_file", None)
        self.interpreter_path: str = "python"
        self.user_managed_dependencies: bool = False
        self.base_conda_environment: str | None = None
        super().__init__(**kwargs)

    @property
    def conda_dependencies_file(self) -> str | None:
        """DEPRECATED. The path of the conda file to use; prefer setting ``conda_dependencies``."""
        return self._conda_dependencies_file

    @conda_dependencies_file.setter
    def conda_dependencies_file(self, value: str | None) -> None:
        self._conda_dependencies_file = value
        if value and os.path.isfile(value):
            # keep the object in step with the file so that both ways of configuring work
            self.conda_dependencies = CondaDependencies(conda_dependencies_file_path=value)


class DockerSection(_Section):
    """The Docker part of an Environment (stored for Azure compatibility; Docker is not used locally).

    ``base_image`` defaults to an Azure ML base image, which locally is treated as "a virtualenv on
    this machine". A ``base_dockerfile``, ``build_context`` or another base image cannot be built here:
    such an environment runs only with ``python.user_managed_dependencies = True``.
    """

    _fields = {
        "_enabled": False, "_base_image": DEFAULT_CPU_IMAGE, "_base_dockerfile": None, "_build_context": None,
        "_shared_volumes": True, "_shm_size": None, "_arguments": [], "_gpu_support": False,
        "base_image_registry": None, "platform": {"os": "Linux", "architecture": "amd64"},
    }

    def __init__(self, **kwargs: Any) -> None:
        """Accepts ``enabled``, ``base_image``, ``base_dockerfile``, ``build_context``, ``shared_volumes``, ``shm_size``, ``arguments``."""
        super().__init__()
        for key, value in kwargs.items():
            setattr(self, key, value)

    @property
    def enabled(self) -> bool:
        """DEPRECATED (use ``DockerConfiguration(use_docker=True)``). Stored; Docker is not used locally."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._enabled = bool(value)

    @property
    def base_image(self) -> str | None:
        """The base image; an Azure ML image (mcr.microsoft.com/azureml/...) runs locally as a virtualenv."""
        return self._base_image

    @base_image.setter
    def base_image(self, value: str | None) -> None:
        self._base_image = value
        if value:
            self._base_dockerfile = None  # the SDK keeps exactly one of image / dockerfile

    @property
    def base_dockerfile(self) -> str | None:
        """The Dockerfile text; cannot be built locally (the environment then needs user-managed dependencies)."""
        return self._base_dockerfile

    @base_dockerfile.setter
    def base_dockerfile(self, value: str | None) -> None:
        self._base_dockerfile = value
        if value:
            self._base_image = None

    @property
    def build_context(self) -> Any:
        """The Docker build context (stored only)."""
        return self._build_context

    @build_context.setter
    def build_context(self, value: Any) -> None:
        self._build_context = value
        if value is not None:
            self._base_image = None

    @property
    def shared_volumes(self) -> bool:
        """DEPRECATED (use DockerConfiguration). Stored only."""
        return self._shared_volumes

    @shared_volumes.setter
    def shared_volumes(self, value: bool) -> None:
        self._shared_volumes = value

    @property
    def shm_size(self) -> str | None:
        """DEPRECATED (use DockerConfiguration). Stored only."""
        return self._shm_size

    @shm_size.setter
    def shm_size(self, value: str | None) -> None:
        self._shm_size = value

    @property
    def arguments(self) -> list[str]:
        """DEPRECATED (use DockerConfiguration). Stored only."""
        return self._arguments

    @arguments.setter
    def arguments(self, value: list[str] | None) -> None:
        self._arguments = list(value or [])

    @property
    def gpu_support(self) -> bool:
        """DEPRECATED: GPU use is detected automatically. Stored only."""
        return self._gpu_support

    @gpu_support.setter
    def gpu_support(self, value: bool) -> None:
        self._gpu_support = bool(value)

    def _needs_docker(self) -> bool:
        """True when this section asks for something only a Docker build could give."""
        from azuremlcore._environments.spec import EnvSpec

        return EnvSpec("docker", docker_image=self._base_image, dockerfile=self._base_dockerfile,
                       build_context=self._build_context).needs_docker


class _LocalImageBuild:
    """What ``Environment.build()`` returns: the local build, with ``wait_for_completion()`` like Azure's."""

    def __init__(self, materialised: "MaterialisedEnv", log_lines: list[str]) -> None:
        self.materialised = materialised
        self.status = "Succeeded"
        self._log = log_lines

    def wait_for_completion(self, show_output: bool = False) -> dict[str, Any]:
        """The build already finished (it is local and synchronous); print its log when show_output."""
        if show_output:
            print("\n".join(self._log))
        return {"status": self.status, "pythonPath": str(self.materialised.python)}

    def get_log(self) -> str:
        """The build log."""
        return "\n".join(self._log)

    def __repr__(self) -> str:
        return f"ImageBuildDetails(status={self.status!r}, python={str(self.materialised.python)!r})"


class Environment:
    """A named, versioned definition of where a run executes: Python packages, variables (and Docker, stored only).

    ``Environment("name")`` defaults: system-managed (a virtualenv built from
    ``python.conda_dependencies``), ``docker.enabled`` False, ``version`` None until registered.
    Build happens when a run starts (or with ``build_local``); identical definitions share one cached build.
    """

    def __init__(self, name: str, **kwargs: Any) -> None:
        """Create an unregistered environment called ``name`` (``version`` becomes a string like "1" on register)."""
        self.name: str = name
        self.version: str | None = kwargs.pop("version", None)
        self.python: PythonSection = kwargs.pop("python", None) or PythonSection()
        self.docker: DockerSection = kwargs.pop("docker", None) or DockerSection()
        self._environment_variables: dict[str, str] = dict(kwargs.pop("environment_variables", None) or {})
        self.inferencing_stack_version: str | None = kwargs.pop("inferencing_stack_version", None)
        self.r: Any = kwargs.pop("r", None)
        self.spark: Any = kwargs.pop("spark", None)
        self.databricks: Any = kwargs.pop("databricks", None)
        self.asset_id: str | None = kwargs.pop("asset_id", None)
        self._labels: list[str] = list(kwargs.pop("labels", None) or [])
        if kwargs:
            raise UserErrorException(f"Environment() got unknown arguments: {', '.join(sorted(kwargs))}.")

    # ------------------------------------------------------------------ attributes
    @property
    def environment_variables(self) -> dict[str, str]:
        """DEPRECATED: prefer ``RunConfiguration.environment_variables``. Variables set for the run's process."""
        return self._environment_variables

    @environment_variables.setter
    def environment_variables(self, value: dict[str, str] | None) -> None:
        self._environment_variables = dict(value or {})

    def __repr__(self) -> str:
        return json.dumps({"name": self.name, "version": self.version, **self._to_dict()}, indent=4, default=str)

    def _repr_html_(self) -> str:
        """The table a notebook shows for this environment."""
        from azuremlcore._html_repr import environment_html

        return environment_html(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Environment) and self.name == other.name and self._to_dict() == other._to_dict()

    # ------------------------------------------------------------------ serialisation
    def serialize(self) -> dict[str, Any]:
        """The definition as a JSON-able dict with Azure ML's field names (name, version, python, docker, ...).

        Not in azureml-core 1.61 (whose Environment keeps this private); added as ComputeTarget and
        Model have it, for tools such as `aml environment show`.
        """
        return self._to_dict()

    def _to_dict(self) -> dict[str, Any]:
        """The JSON-able definition (Azure ML's REST field names), conda file included as a dict."""
        cd = self.python.conda_dependencies
        return {
            "name": self.name,
            "version": self.version,
            "environmentVariables": dict(self._environment_variables),
            "python": {
                "userManagedDependencies": bool(self.python.user_managed_dependencies),
                "interpreterPath": self.python.interpreter_path,
                "condaDependenciesFile": self.python.conda_dependencies_file,
                "baseCondaEnvironment": self.python.base_conda_environment,
                "condaDependencies": cd.as_dict() if cd is not None else None,
            },
            "docker": {
                "enabled": self.docker.enabled,
                "baseImage": self.docker.base_image,
                "baseDockerfile": self.docker.base_dockerfile,
                "buildContext": self._build_context_dict(),
                "sharedVolumes": self.docker.shared_volumes,
                "shmSize": self.docker.shm_size,
                "arguments": list(self.docker.arguments),
                "gpuSupport": self.docker.gpu_support,
                "baseImageRegistry": copy.deepcopy(self.docker.base_image_registry),
                "platform": copy.deepcopy(self.docker.platform),
            },
            "inferencingStackVersion": self.inferencing_stack_version,
            "r": self.r if isinstance(self.r, (dict, type(None))) else None,
        }

    def _build_context_dict(self) -> Any:
        ctx = self.docker.build_context
        if ctx is None or isinstance(ctx, (str, dict)):
            return ctx
        return {k: v for k, v in vars(ctx).items() if isinstance(v, (str, int, float, bool, type(None)))}

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> "Environment":
        """Rebuild an Environment from :meth:`_to_dict` output (unknown keys are ignored)."""
        env = cls(data.get("name") or "unnamed")
        version = data.get("version")
        env.version = str(version) if version is not None else None
        env.environment_variables = data.get("environmentVariables") or {}
        py = data.get("python") or {}
        env.python.user_managed_dependencies = bool(py.get("userManagedDependencies", False))
        env.python.interpreter_path = py.get("interpreterPath") or "python"
        env.python.base_conda_environment = py.get("baseCondaEnvironment")
        env.python._conda_dependencies_file = py.get("condaDependenciesFile")
        conda = py.get("condaDependencies")
        env.python.conda_dependencies = CondaDependencies(_underlying_structure=conda) if conda is not None else None
        dk = data.get("docker") or {}
        env.docker.enabled = bool(dk.get("enabled", False))
        env.docker._base_image = dk.get("baseImage", DEFAULT_CPU_IMAGE)
        env.docker._base_dockerfile = dk.get("baseDockerfile")
        env.docker._build_context = dk.get("buildContext")
        env.docker.shared_volumes = dk.get("sharedVolumes", True)
        env.docker.shm_size = dk.get("shmSize")
        env.docker.arguments = dk.get("arguments") or []
        env.docker.gpu_support = bool(dk.get("gpuSupport", False))
        env.docker.base_image_registry = dk.get("baseImageRegistry")
        env.docker.platform = dk.get("platform") or {"os": "Linux", "architecture": "amd64"}
        env.inferencing_stack_version = data.get("inferencingStackVersion")
        env.r = data.get("r")
        return env

    def _spec_hash(self) -> str:
        """A stable hash of what decides the built environment (not the name, version or variables)."""
        return env_spec(self._to_dict()).spec_hash

    # ------------------------------------------------------------------ constructors
    @staticmethod
    def from_conda_specification(name: str, file_path: str | os.PathLike[str]) -> "Environment":
        """Create an environment from a conda ``environment.yml`` (python version, conda and pip packages)."""
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies(conda_dependencies_file_path=file_path)
        return env

    @staticmethod
    def from_pip_requirements(name: str, file_path: str | os.PathLike[str], pip_version: str | None = None) -> "Environment":
        """Create an environment from a pip ``requirements.txt`` (python = this interpreter's version).

        ``-r other.txt`` lines are followed (relative to the file); comments and blank lines are dropped.
        ``pip_version`` is recorded as a ``pip=<version>`` conda package (the local build does not need pip).
        """
        requirements = _read_requirements(os.fspath(file_path))
        conda = [f"pip={pip_version}"] if pip_version else []
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies.create(pip_packages=requirements, conda_packages=conda)
        return env

    @staticmethod
    def from_existing_conda_environment(name: str, conda_environment_name: str) -> "Environment":
        """Create an environment from the packages of a local conda environment (needs conda on PATH)."""
        exe = next((shutil.which(t) for t in ("conda", "mamba", "micromamba") if shutil.which(t)), None)
        if exe is None:
            raise UserErrorException(
                f"Cannot read conda environment {conda_environment_name!r}: no conda, mamba or micromamba on PATH. "
                "Export it elsewhere with `conda env export -n NAME > env.yml` and use "
                "Environment.from_conda_specification(name, 'env.yml'), or list its packages in a requirements "
                "file and use Environment.from_pip_requirements.")
        proc = subprocess.run([exe, "env", "export", "-n", conda_environment_name], capture_output=True, text=True)
        if proc.returncode != 0:
            raise UserErrorException(f"`{exe} env export -n {conda_environment_name}` failed: {proc.stderr.strip()}")
        structure = CondaDependencies._parse(proc.stdout, f"conda environment {conda_environment_name}")
        structure.pop("prefix", None)  # machine-specific
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies(_underlying_structure=structure)
        return env

    @staticmethod
    def from_dockerfile(name: str, dockerfile: str, conda_specification: str | None = None,
                        pip_requirements: str | None = None) -> "Environment":
        """Create an environment from a Dockerfile (a path or its text). Stored only: Docker is not used locally.

        Without ``conda_specification``/``pip_requirements`` the environment is user-managed (as in Azure ML)
        and runs locally with this interpreter; with them, running it locally fails with a clear error.
        """
        text = dockerfile
        if os.path.isfile(dockerfile):
            with open(dockerfile, encoding="utf-8") as fh:
                text = fh.read()
        env = _with_python_deps(name, conda_specification, pip_requirements)
        env.docker.base_dockerfile = text
        return env

    @staticmethod
    def from_docker_image(name: str, image: str, container_registry: Any = None, conda_specification: str | None = None,
                          pip_requirements: str | None = None) -> "Environment":
        """Create an environment from a Docker image (stored only; see :meth:`from_dockerfile` for local use)."""
        env = _with_python_deps(name, conda_specification, pip_requirements)
        env.docker.base_image = image
        env.docker.base_image_registry = _registry_dict(container_registry)
        return env

    @staticmethod
    def from_docker_build_context(name: str, docker_build_context: Any) -> "Environment":
        """Create an environment from a Docker build context (stored only; user-managed, so it runs locally as is)."""
        env = Environment(name)
        env.python.user_managed_dependencies = True
        env.docker.build_context = docker_build_context
        return env

    def clone(self, new_name: str) -> "Environment":
        """A copy named ``new_name`` with no version.

        Divergence: azureml-core 1.61 shares the CondaDependencies object between original and clone,
        so editing the clone's packages also edits the original; here the clone is a deep copy.
        """
        data = self._to_dict()
        data["name"], data["version"] = new_name, None
        env = Environment._from_dict(data)
        env.docker._build_context = copy.deepcopy(self.docker.build_context)
        env.spark, env.databricks = copy.deepcopy(self.spark), copy.deepcopy(self.databricks)
        return env

    # ------------------------------------------------------------------ files
    def save_to_directory(self, path: str | os.PathLike[str], overwrite: bool = False) -> None:
        """Write ``azureml_environment.json`` and ``conda_dependencies.yml`` (and ``BaseDockerfile``) into ``path``."""
        path = os.fspath(path)
        if os.path.exists(path) and not os.path.isdir(path):
            raise UserErrorException(f"{path!r} exists and is not a directory.")
        targets = [os.path.join(path, f) for f in (_ENV_JSON, _CONDA_YML, _DOCKERFILE)]
        if not overwrite and any(os.path.exists(t) for t in targets):
            raise UserErrorException(f"Environment files already exist in {path!r}; pass overwrite=True to replace them.")
        os.makedirs(path, exist_ok=True)
        data = self._to_dict()
        data["python"]["condaDependencies"] = None  # kept in the editable YAML file next to it
        data["docker"]["baseDockerfile"] = None
        with open(targets[0], "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=4)
            fh.write("\n")
        if self.python.conda_dependencies is not None:
            self.python.conda_dependencies.save(targets[1])
        elif os.path.exists(targets[1]):
            os.remove(targets[1])
        if self.docker.base_dockerfile:
            with open(targets[2], "w", encoding="utf-8") as fh:
                fh.write(self.docker.base_dockerfile)
        elif os.path.exists(targets[2]):
            os.remove(targets[2])

    @staticmethod
    def load_from_directory(path: str | os.PathLike[str]) -> "Environment":
        """Load an environment saved by :meth:`save_to_directory` (the YAML and Dockerfile may have been edited)."""
        path = os.fspath(path)
        definition = os.path.join(path, _ENV_JSON)
        if not os.path.isfile(definition):
            raise UserErrorException(f"No {_ENV_JSON} in {path!r}: save one with Environment.save_to_directory().")
        with open(definition, encoding="utf-8") as fh:
            data = json.load(fh)
        env = Environment._from_dict(data)
        conda_file = os.path.join(path, _CONDA_YML)
        env.python.conda_dependencies = (CondaDependencies(conda_dependencies_file_path=conda_file)
                                         if os.path.isfile(conda_file) else None)
        dockerfile = os.path.join(path, _DOCKERFILE)
        if os.path.isfile(dockerfile):
            with open(dockerfile, encoding="utf-8") as fh:
                env.docker._base_dockerfile = fh.read()
        return env

    # ------------------------------------------------------------------ build
    def _materialise(self, log: Any = None) -> "MaterialisedEnv":
        from azuremlcore._environments import materialise

        return materialise(env_spec(self._to_dict()), log=log)

    def build_local(self, workspace: Any = None, platform: str | None = None, **kwargs: Any) -> "MaterialisedEnv":
        """Build (or reuse) the local virtualenv for this environment now; returns its python path and freeze list.

        ``useDocker=True`` is not supported (no Docker here); ``platform`` is ignored.
        """
        if kwargs.get("useDocker"):
            raise UserErrorException("build_local(useDocker=True) needs Docker, which this SDK does not use; "
                                     "call build_local() to build a local virtualenv.")
        printer = print if kwargs.get("show_output", True) else None
        return self._materialise(log=printer)

    def build(self, workspace: Any = None, image_build_compute: str | None = None) -> _LocalImageBuild:
        """Build the environment (locally; the same as :meth:`build_local`); ``.wait_for_completion()`` works as on Azure."""
        lines: list[str] = []
        mat = self._materialise(log=lines.append)
        return _LocalImageBuild(mat, lines)

    def get_image_details(self, workspace: Any = None) -> dict[str, Any]:
        """Where this environment lives locally: python path, whether it is built, its spec hash."""
        from azuremlcore._environments._materialise import describe

        return describe(env_spec(self._to_dict()))

    # ------------------------------------------------------------------ workspace registry
    def register(self, workspace: Any) -> "Environment":
        """Register this definition in ``workspace``; returns the registered copy (``version`` "1", "2", ...).

        Registering a definition identical to the latest version returns that version instead of a new one.
        Names starting with "AzureML" are reserved for curated environments: clone() first.
        """
        if self.name.lower().startswith(_RESERVED_PREFIXES) or self.name.lower().startswith("azureml"):
            raise UserErrorException(
                f"Environment name {self.name!r} starts with the reserved prefix 'AzureML' (curated environments). "
                f"Use env.clone('my-name') and register the clone.")
        store, ws_id = _store_of(workspace)
        spec = self._to_dict()
        spec.pop("version", None)
        latest = store.get_asset(ws_id, _ASSET_KIND, self.name)
        if latest is not None and _same_spec(latest.spec, spec):
            return _env_from_record(latest)
        record = store.put_asset(ws_id, _ASSET_KIND, self.name, spec)
        return _env_from_record(record)

    @staticmethod
    def get(workspace: Any, name: str, version: str | int | None = None, label: str | None = None) -> "Environment":
        """The registered environment ``name`` (latest, or ``version``/``label``).

        Curated names (starting with "AzureML-" or "azureml-", e.g. "AzureML-sklearn-1.5") that are not
        registered return a curated environment built for this interpreter with matching pip packages.
        """
        if version is not None and label is not None:
            raise UserErrorException("Pass either version or label to Environment.get, not both.")
        store, ws_id = _store_of(workspace)
        record = None
        if label is not None:
            candidates = [r for r in store.list_assets(ws_id, _ASSET_KIND, name)
                          if label in _labels_of(r)]
            record = max(candidates, key=lambda r: r.version) if candidates else None
            if record is None:
                raise UserErrorException(f"No version of environment {name!r} has the label {label!r}.")
        else:
            try:
                int_version = int(version) if version is not None else None
            except (TypeError, ValueError):
                raise UserErrorException(f"Environment version must be a number like '1', got {version!r}.") from None
            record = store.get_asset(ws_id, _ASSET_KIND, name, int_version)
        if record is not None:
            return _env_from_record(record)
        if _is_curated(name):
            return _curated_environment(name, version=str(version) if version is not None else None)
        known = sorted({r.name for r in store.list_assets(ws_id, _ASSET_KIND)})
        what = f"version {version} of environment {name!r}" if version is not None else f"environment {name!r}"
        raise UserErrorException(f"No {what} is registered in this workspace. Registered: {known or 'none'}. "
                                 "Register one with env.register(workspace).")

    @staticmethod
    def list(workspace: Any) -> dict[str, "Environment"]:
        """All environments of the workspace as a dict name -> latest version (plus the curated names)."""
        from azuremlcore._environments._curated import CURATED_NAMES

        store, ws_id = _store_of(workspace)
        latest: dict[str, Any] = {}
        for record in store.list_assets(ws_id, _ASSET_KIND):
            if record.name not in latest or record.version > latest[record.name].version:
                latest[record.name] = record
        result: dict[str, Environment] = {name: _curated_environment(name) for name in CURATED_NAMES}
        result.update({name: _env_from_record(rec) for name, rec in sorted(latest.items())})
        return result

    @staticmethod
    def label(workspace: Any, name: str, version: str | int, labels: Iterable[str]) -> None:
        """Attach ``labels`` to a registered version (a label moves: it is removed from the name's other versions)."""
        store, ws_id = _store_of(workspace)
        labels = [str(x) for x in labels]
        records = store.list_assets(ws_id, _ASSET_KIND, name)
        target = next((r for r in records if r.version == int(version)), None)
        if target is None:
            raise UserErrorException(f"Environment {name!r} version {version} is not registered.")
        if not hasattr(store, "update_asset"):
            raise UserErrorException("This workspace store cannot update assets, so labels cannot be set.")
        for rec in records:
            have = _labels_of(rec)
            want = sorted(set(have) | set(labels)) if rec is target else [x for x in have if x not in labels]
            if want != have:
                props = dict(rec.properties or {})
                props[_LABELS_PROPERTY] = ",".join(want)
                store.update_asset(ws_id, _ASSET_KIND, name, rec.version, properties=props)

    @staticmethod
    def add_private_pip_wheel(workspace: Any, file_path: str, exist_ok: bool = False) -> str:
        """Copy a wheel into the workspace's local wheel folder; returns the path to put in a pip requirement.

        The returned path (an absolute file path) can be passed to ``add_pip_package``.
        """
        if not os.path.isfile(file_path) or not file_path.endswith(".whl"):
            raise UserErrorException(f"{file_path!r} is not a wheel file (.whl).")
        from azuremlcore._environments._materialise import azuremlcore_home

        _, ws_id = _store_of(workspace)
        folder = azuremlcore_home() / "wheels" / str(ws_id)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / os.path.basename(file_path)
        if target.exists() and not exist_ok:
            raise UserErrorException(f"A wheel named {target.name} was already added; pass exist_ok=True to reuse it.")
        shutil.copyfile(file_path, target)
        return str(target)


# ---------------------------------------------------------------------- helpers
def _read_requirements(path: str, _seen: set[str] | None = None) -> list[str]:
    seen = _seen if _seen is not None else set()
    real = os.path.realpath(path)
    if real in seen:
        return []
    seen.add(real)
    if not os.path.isfile(path):
        raise UserErrorException(f"Requirements file not found: {path!r}.")
    out: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = re.sub(r"(^|\s)#.*$", "", raw).strip()
            if not line:
                continue
            m = re.match(r"^(?:-r|--requirement)\s*=?\s*(.+)$", line)
            if m:
                out.extend(_read_requirements(os.path.join(os.path.dirname(path), m.group(1).strip()), seen))
                continue
            out.append(line)
    return out


def _with_python_deps(name: str, conda_specification: str | None, pip_requirements: str | None) -> Environment:
    if conda_specification and pip_requirements:
        raise UserErrorException("Pass conda_specification or pip_requirements, not both.")
    if conda_specification:
        return Environment.from_conda_specification(name, conda_specification)
    if pip_requirements:
        return Environment.from_pip_requirements(name, pip_requirements)
    env = Environment(name)
    env.python.user_managed_dependencies = True  # the image provides Python, as in Azure ML
    return env


def _registry_dict(registry: Any) -> dict[str, Any] | None:
    if registry is None or isinstance(registry, dict):
        return registry
    return {"address": getattr(registry, "address", None), "username": getattr(registry, "username", None)}


def _is_curated(name: str) -> bool:
    return name.lower().startswith(_RESERVED_PREFIXES)


def _curated_environment(name: str, version: str | None = None) -> Environment:
    """A system-managed Environment for a curated name: the Python its name states (3.8 at least), else this one's."""
    from azuremlcore._environments._curated import curated_recipe

    recipe = curated_recipe(name)
    env = Environment(name)
    env.version = version or "1"
    cd = CondaDependencies.create(pip_packages=recipe.pip_packages, python_version=recipe.python_version) \
        if recipe.python_version else CondaDependencies.create(pip_packages=recipe.pip_packages)
    for option in recipe.pip_options:
        cd.set_pip_option(option)
    env.python.conda_dependencies = cd
    return env


def _store_of(workspace: Any) -> tuple[Any, Any]:
    store = getattr(workspace, "_store", None)
    ws_id = getattr(workspace, "_ws_id", None)
    if store is None or ws_id is None:
        raise UserErrorException(f"Expected a Workspace (from Workspace.from_config()), got {type(workspace).__name__}.")
    return store, ws_id


def _labels_of(record: Any) -> list[str]:
    raw = (record.properties or {}).get(_LABELS_PROPERTY, "")
    return [x for x in raw.split(",") if x]


def _same_spec(a: dict[str, Any], b: dict[str, Any]) -> bool:
    strip = lambda d: {k: v for k, v in d.items() if k not in ("version", "name")}  # noqa: E731
    return json.dumps(strip(a), sort_keys=True, default=str) == json.dumps(strip(b), sort_keys=True, default=str)


def _env_from_record(record: Any) -> Environment:
    data = dict(record.spec)
    data["name"], data["version"] = record.name, str(record.version)
    env = Environment._from_dict(data)
    env._labels = _labels_of(record)
    return env

