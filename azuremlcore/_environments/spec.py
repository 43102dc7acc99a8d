"""What decides a built environment, read from an environment's definition: `EnvSpec`.

The definition is the JSON-able dict an `Environment` serialises to (Azure ML's REST field names:
``python.userManagedDependencies``, ``python.condaDependencies``, ``docker.baseImage``, ...). It is
what a submitted run records, so the runner, the environment builder and the scoring services
work from it alone and never need the `Environment` class. The conda file readers here are also
what `CondaDependencies` answers with, so both read a conda file the same way.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

# Azure ML's default CPU image: locally it means "a virtualenv on this machine", like every image of that family.
DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"
_AZUREML_IMAGES = "mcr.microsoft.com/azureml/"
DEFAULT_CONDA_NAME = "project_environment"


# ---------------------------------------------------------------------------------------------- conda files
def normalise_conda(structure: Mapping[str, Any]) -> dict[str, Any]:
    """The conda file with 'dependencies' and 'channels' as lists of text (YAML may give numbers or None)."""
    out = dict(structure)
    deps: list[Any] = []
    for dep in out.get("dependencies") or []:
        if isinstance(dep, dict):
            deps.append({k: [str(x) for x in (v or [])] if k == "pip" else v for k, v in dep.items()})
        elif dep is not None:
            deps.append(str(dep))
    out["dependencies"] = deps
    if "channels" in out:
        out["channels"] = [str(c) for c in (out.get("channels") or [])]
    out.setdefault("name", DEFAULT_CONDA_NAME)
    return out


def conda_channels(structure: Mapping[str, Any]) -> list[str]:
    """The channels of a normalised conda file, in priority order."""
    return list(structure.get("channels") or [])


def conda_packages(structure: Mapping[str, Any]) -> list[str]:
    """The conda packages of a normalised conda file, ``python=...`` included."""
    return [d for d in structure.get("dependencies") or [] if isinstance(d, str)]


def _pip_entries(structure: Mapping[str, Any]) -> list[str]:
    for dep in structure.get("dependencies") or []:
        if isinstance(dep, dict) and "pip" in dep:
            return list(dep["pip"] or [])
    return []


def pip_packages(structure: Mapping[str, Any]) -> list[str]:
    """The pip requirements of a normalised conda file, without pip options."""
    return [p for p in _pip_entries(structure) if not p.strip().startswith("-")]


def pip_options(structure: Mapping[str, Any]) -> list[str]:
    """The pip options of a normalised conda file (entries starting with '-', e.g. ``--extra-index-url URL``)."""
    return [p for p in _pip_entries(structure) if p.strip().startswith("-")]


@dataclass(frozen=True)
class CondaSpec:
    """The packages of a system-managed environment's conda file."""

    channels: tuple[str, ...] = ()
    conda_packages: tuple[str, ...] = ()
    pip_packages: tuple[str, ...] = ()
    pip_options: tuple[str, ...] = ()

    @classmethod
    def from_structure(cls, structure: Mapping[str, Any]) -> "CondaSpec":
        """Read a conda file given as a dict (the YAML's structure)."""
        s = normalise_conda(structure)
        return cls(tuple(conda_channels(s)), tuple(conda_packages(s)), tuple(pip_packages(s)), tuple(pip_options(s)))


# ---------------------------------------------------------------------------------------------- environments
@dataclass(frozen=True)
class EnvSpec:
    """What the builder needs of an environment: its name, Python, packages and (refused here) Docker parts."""

    name: str
    user_managed: bool = False
    interpreter_path: str | None = "python"
    base_conda_environment: str | None = None
    conda: CondaSpec | None = None
    docker_image: str | None = DEFAULT_CPU_IMAGE
    dockerfile: str | None = None
    build_context: Any = field(default=None, hash=False)

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> "EnvSpec":
        """Read an environment definition (unknown keys are ignored; missing ones take Environment's defaults)."""
        py = definition.get("python") or {}
        dk = definition.get("docker") or {}
        conda = py.get("condaDependencies")
        return cls(name=definition.get("name") or "unnamed",
                   user_managed=bool(py.get("userManagedDependencies", False)),
                   interpreter_path=py.get("interpreterPath", "python"),
                   base_conda_environment=py.get("baseCondaEnvironment"),
                   conda=CondaSpec.from_structure(conda) if conda is not None else None,
                   docker_image=dk.get("baseImage", DEFAULT_CPU_IMAGE), dockerfile=dk.get("baseDockerfile"),
                   build_context=dk.get("buildContext"))

    @property
    def needs_docker(self) -> bool:
        """True when the definition asks for something only a Docker build could give."""
        if self.dockerfile or self.build_context is not None:
            return True
        return bool(self.docker_image) and not str(self.docker_image).startswith(_AZUREML_IMAGES)

    @property
    def spec_hash(self) -> str:
        """A stable hash of what decides the built environment (not the name, version or variables)."""
        conda: dict[str, Any] | None = None
        if self.conda is not None and not self.user_managed:
            conda = {"conda": sorted(self.conda.conda_packages), "pip": sorted(self.conda.pip_packages),
                     "pip_options": sorted(self.conda.pip_options),
                     "channels": list(self.conda.channels)}  # channel order is priority order: keep it
        spec = {
            "user_managed": self.user_managed,
            "interpreter": self.interpreter_path if self.user_managed else None,
            "base_conda_environment": self.base_conda_environment,
            "conda": conda,
            "docker": {"image": self.docker_image, "dockerfile": self.dockerfile, "context": self.build_context},
        }
        blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


def env_spec(env: Any) -> EnvSpec:
    """The spec of an EnvSpec, a definition dict, or any object that serialises to one (``_to_dict()``)."""
    if isinstance(env, EnvSpec):
        return env
    if isinstance(env, Mapping):
        return EnvSpec.from_definition(env)
    to_dict = getattr(env, "_to_dict", None)
    if to_dict is None:
        raise TypeError(f"Expected an environment or its definition, got {type(env).__name__}.")
    return EnvSpec.from_definition(to_dict())
