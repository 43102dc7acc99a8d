"""``CondaDependencies``: the conda environment file (python version, conda and pip packages) of an Environment.

Mirrors ``azureml.core.conda_dependencies``. The object edits an in-memory copy of a conda
``environment.yml`` (``name``, ``channels``, ``dependencies`` with a nested ``pip:`` list) and writes it
back with :meth:`CondaDependencies.serialize_to_string` / :meth:`CondaDependencies.save`.
On this SDK the file is turned into a local virtualenv (see ``Environment``); conda itself is only
needed for conda packages that have no PyPI twin.
"""
from __future__ import annotations

import copy
import os
import platform
import re
from typing import Any, Iterable

from azuremlcore._environments import spec as _spec
from azuremlcore._environments._yaml import quote as _quote
from azuremlcore._environments._yaml import safe_load as _safe_load

__all__ = ["CondaDependencies"]

_DEFAULT_ENV_NAME = _spec.DEFAULT_CONDA_NAME
_DEFAULT_CHANNELS = ("anaconda", "conda-forge")
_DEFAULT_PIP = ("azureml-defaults",)
_PIP_OPTION_KEYS = ("--index-url", "--extra-index-url", "--find-links", "-f", "-i", "--pre", "--trusted-host")

# Package names per PEP 503: case, "-", "_" and "." are equivalent.
_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_name(requirement: str) -> str:
    """The distribution name of a pip requirement line ('' for options and URLs without #egg=)."""
    req = requirement.strip()
    if req.startswith("-"):
        return ""
    if "#egg=" in req:
        return _norm(req.split("#egg=", 1)[1].split("&")[0])
    if "://" in req.split("@", 1)[0] or req.startswith(("/", ".")):
        return ""
    m = _NAME_RE.match(req)
    return _norm(m.group(1)) if m else ""


def _conda_name(spec: str) -> str:
    """The package name of a conda match spec ('conda-forge::numpy=1.2=py_0' -> 'numpy')."""
    spec = spec.strip().split("::", 1)[-1]
    m = re.match(r"^([A-Za-z0-9_.\-]+)", spec)
    return m.group(1).lower() if m else spec.lower()


class CondaDependencies:
    """Manage the conda/pip dependencies of an environment (the conda ``environment.yml``).

    ``CondaDependencies()`` starts from the same template as Azure ML: name ``project_environment``,
    ``python=<this interpreter's version>``, pip ``azureml-defaults``, channels ``anaconda`` and
    ``conda-forge``. ``azureml-defaults`` is accepted and skipped when the environment is built
    (this SDK provides it). Pass ``conda_dependencies_file_path`` to load an existing file instead.
    """

    DEFAULT_NUMBER_OF_CONDA_PACKAGES: int = 0
    DEFAULT_NUMBER_OF_PIP_PACKAGES: int = 0

    def __init__(self, conda_dependencies_file_path: str | os.PathLike[str] | None = None,
                 _underlying_structure: dict[str, Any] | None = None) -> None:
        """Load ``conda_dependencies_file_path`` if given, else start from the default template."""
        self._file_path: str | None = None
        if conda_dependencies_file_path is not None:
            path = os.fspath(conda_dependencies_file_path)
            if not os.path.isfile(path):
                from azuremlcore.exceptions import UserErrorException

                raise UserErrorException(f"Conda dependencies file not found: {path!r}. Check the path (it is relative "
                                         f"to the current directory {os.getcwd()!r}).")
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            structure = self._parse(text, path)
            self._file_path = path
        elif _underlying_structure is not None:
            structure = copy.deepcopy(dict(_underlying_structure))
        else:
            structure = {
                "name": _DEFAULT_ENV_NAME,
                "dependencies": [f"python={platform.python_version()}", {"pip": list(_DEFAULT_PIP)}],
                "channels": list(_DEFAULT_CHANNELS),
            }
        self._conda_dependencies: dict[str, Any] = self._normalise(structure)

    # ----------------------------------------------------------------- parsing helpers
    @staticmethod
    def _parse(text: str, source: str = "<string>") -> dict[str, Any]:
        try:
            data = _safe_load(text)
        except Exception as exc:  # PyYAML raises its own error types; wrap them in the SDK's
            from azuremlcore.exceptions import UserErrorException

            raise UserErrorException(f"Cannot parse conda file {source}: {exc}") from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            from azuremlcore.exceptions import UserErrorException

            raise UserErrorException(f"Conda file {source} must be a mapping with 'dependencies:' (and optionally "
                                     f"'name:' and 'channels:'), got {type(data).__name__}.")
        return data

    @staticmethod
    def _normalise(structure: dict[str, Any]) -> dict[str, Any]:
        """Make sure 'dependencies' and 'channels' are lists and values are strings (YAML may give numbers)."""
        return _spec.normalise_conda(structure)

    @classmethod
    def _from_string(cls, text: str) -> "CondaDependencies":
        """Build from the text of a conda environment file."""
        return cls(_underlying_structure=cls._parse(text))

    def _pip_section(self, create: bool) -> list[str] | None:
        for dep in self._conda_dependencies["dependencies"]:
            if isinstance(dep, dict) and "pip" in dep:
                if dep["pip"] is None:
                    dep["pip"] = []
                return dep["pip"]
        if not create:
            return None
        section: list[str] = []
        self._conda_dependencies["dependencies"].append({"pip": section})
        return section

    # ----------------------------------------------------------------- factory
    @staticmethod
    def create(pip_indexurl: str | None = None, pip_packages: Iterable[str] | None = None,
               conda_packages: Iterable[str] | None = None, python_version: str | None = platform.python_version(),
               pin_sdk_version: bool = True) -> "CondaDependencies":
        """Create dependencies with ``python=<python_version>``, the given conda packages and exactly the given pip list.

        ``python_version`` defaults to this interpreter's version (None means the same).
        ``pin_sdk_version`` is accepted for compatibility: Azure ML pins ``azureml-*`` pip packages to its own
        version; this SDK provides those packages itself, so the pip list is kept exactly as given.
        """
        version = python_version or platform.python_version()
        deps: list[Any] = [f"python={version}"]
        for pkg in conda_packages or []:
            deps.append(str(pkg))
        structure: dict[str, Any] = {"name": _DEFAULT_ENV_NAME, "dependencies": deps, "channels": list(_DEFAULT_CHANNELS)}
        cd = CondaDependencies(_underlying_structure=structure)
        pip = list(pip_packages or [])
        if pip or pip_indexurl:
            section = cd._pip_section(create=True)
            assert section is not None
            if pip_indexurl:
                section.append(f"--index-url {pip_indexurl}")
            section.extend(str(p) for p in pip)
        return cd

    @staticmethod
    def merge_requirements(requirements: Iterable[str]) -> list[str]:
        """Merge requirements naming the same package into one ('numpy>=1', 'numpy<2' -> 'numpy>=1,<2').

        Order of first appearance is kept; options and URLs are kept as they are, duplicates dropped.
        """
        merged: dict[str, list[str]] = {}
        order: list[str] = []
        for req in requirements:
            req = str(req).strip()
            name = _pip_name(req)
            if not name:
                if req not in order:
                    order.append(req)
                continue
            m = _NAME_RE.match(req)
            assert m is not None
            rest = req[m.end():].strip()
            extras = ""
            if rest.startswith("["):
                extras, _, rest = rest.partition("]")
                extras += "]"
                rest = rest.strip()
            key = "\0" + name
            if key not in merged:
                merged[key] = [m.group(1) + extras]
                order.append(key)
            for part in [p.strip() for p in rest.split(",") if p.strip()]:
                if part not in merged[key][1:]:
                    merged[key].append(part)
        out = []
        for item in order:
            if item.startswith("\0"):
                head, *specs = merged[item]
                out.append(head + ",".join(specs))
            else:
                out.append(item)
        return out

    @staticmethod
    def sdk_origin_url() -> str:
        """The package index this SDK's packages come from (PyPI)."""
        return "https://pypi.org/simple"

    # ----------------------------------------------------------------- read access
    @property
    def conda_channels(self) -> list[str]:
        """The conda channels, in order (an iterator-like list copy; edit with add_channel/remove_channel)."""
        return _spec.conda_channels(self._conda_dependencies)

    @property
    def conda_packages(self) -> list[str]:
        """The conda packages, including the ``python=...`` entry (edit with add/remove_conda_package)."""
        return _spec.conda_packages(self._conda_dependencies)

    @property
    def pip_packages(self) -> list[str]:
        """The pip requirements, without pip options such as ``--index-url``."""
        return _spec.pip_packages(self._conda_dependencies)

    @property
    def pip_options(self) -> list[str]:
        """The pip options (entries of the pip list starting with '-', e.g. ``--extra-index-url URL``)."""
        return _spec.pip_options(self._conda_dependencies)

    @property
    def _python_version(self) -> str | None:
        return self.get_python_version()

    def get_python_version(self) -> str | None:
        """The version from the ``python=...`` conda entry ('3.10.4', '3.8'), or None when there is none."""
        for dep in self.conda_packages:
            if _conda_name(dep) == "python":
                spec = dep.strip().split("::", 1)[-1][len("python"):].strip()
                spec = spec.lstrip("=").strip()
                return spec.split("=")[0].split(" ")[0] or None
        return None

    def get_default_number_of_packages(self) -> tuple[int, int]:
        """The number of (conda, pip) packages the template adds that are not the user's own."""
        return self.DEFAULT_NUMBER_OF_CONDA_PACKAGES, self.DEFAULT_NUMBER_OF_PIP_PACKAGES

    def as_dict(self) -> dict[str, Any]:
        """A deep copy of the conda file as a dict (name, dependencies, channels, ...)."""
        return copy.deepcopy(self._conda_dependencies)

    # ----------------------------------------------------------------- edits
    def set_python_version(self, version: str) -> None:
        """Set the ``python=<version>`` conda entry (replacing any existing one)."""
        deps = self._conda_dependencies["dependencies"]
        entry = f"python={version}"
        for i, dep in enumerate(deps):
            if isinstance(dep, str) and _conda_name(dep) == "python":
                deps[i] = entry
                return
        deps.insert(0, entry)

    def add_conda_package(self, conda_package: str) -> None:
        """Add a conda package (a spec like 'numpy=1.21'); an entry for the same package is replaced."""
        deps = self._conda_dependencies["dependencies"]
        name = _conda_name(conda_package)
        for i, dep in enumerate(deps):
            if isinstance(dep, str) and _conda_name(dep) == name:
                deps[i] = conda_package
                return
        # conda files list conda packages before the nested pip section
        pip_at = next((i for i, d in enumerate(deps) if isinstance(d, dict)), len(deps))
        deps.insert(pip_at, conda_package)

    def remove_conda_package(self, conda_package: str) -> None:
        """Remove a conda package, given by name or by the exact spec that was added."""
        deps = self._conda_dependencies["dependencies"]
        name = _conda_name(conda_package)
        self._conda_dependencies["dependencies"] = [
            d for d in deps if not (isinstance(d, str) and (d == conda_package or _conda_name(d) == name))
        ]

    def add_pip_package(self, pip_package: str) -> None:
        """Add a pip requirement ('scikit-learn', 'numpy==1.26.4'); an entry for the same package is replaced."""
        section = self._pip_section(create=True)
        assert section is not None
        name = _pip_name(pip_package)
        if name:
            for i, existing in enumerate(section):
                if _pip_name(existing) == name:
                    section[i] = pip_package
                    return
        if pip_package not in section:
            section.append(pip_package)

    def remove_pip_package(self, pip_package: str) -> None:
        """Remove a pip requirement, given by package name or by the exact line that was added."""
        section = self._pip_section(create=False)
        if section is None:
            return
        name = _pip_name(pip_package)
        section[:] = [p for p in section if not (p == pip_package or (name and _pip_name(p) == name))]

    def set_pip_requirements(self, pip_requirements: Iterable[str]) -> None:
        """Replace the whole pip section (options and packages) by ``pip_requirements``."""
        section = self._pip_section(create=True)
        assert section is not None
        section[:] = [str(p) for p in pip_requirements]

    def set_pip_option(self, pip_option: str) -> None:
        """Add a pip option such as ``--extra-index-url URL`` (an option with the same flag is replaced)."""
        section = self._pip_section(create=True)
        assert section is not None
        flag = pip_option.strip().split()[0] if pip_option.strip() else pip_option
        for i, existing in enumerate(section):
            if existing.strip().startswith("-") and existing.strip().split()[0] == flag and flag != "--extra-index-url":
                section[i] = pip_option
                return
        if pip_option not in section:
            # options go first so that a human reading the file sees them before the packages
            n_opts = sum(1 for p in section if p.strip().startswith("-"))
            section.insert(n_opts, pip_option)

    def remove_pip_option(self, pip_option: str) -> None:
        """Remove a pip option, given exactly or by its flag ('--index-url')."""
        section = self._pip_section(create=False)
        if section is None:
            return
        section[:] = [p for p in section
                      if not (p.strip().startswith("-") and (p == pip_option or p.strip().split()[0] == pip_option.strip()))]

    def set_pip_index_url(self, index_url: str) -> None:
        """Set the pip index (``--index-url URL``), replacing a previous one."""
        self.set_pip_option(f"--index-url {index_url}")

    def add_channel(self, channel: str) -> None:
        """Add a conda channel (no-op when present)."""
        channels = self._conda_dependencies.setdefault("channels", [])
        if channel not in channels:
            channels.append(channel)

    def remove_channel(self, channel: str) -> None:
        """Remove a conda channel (no-op when absent)."""
        channels = self._conda_dependencies.get("channels") or []
        self._conda_dependencies["channels"] = [c for c in channels if c != channel]

    def add_tensorflow_conda_package(self, core_type: str = "cpu", version: str | None = None) -> None:
        """Add the conda package ``tensorflow`` (``tensorflow-gpu`` when core_type='gpu'), optionally pinned."""
        name = "tensorflow-gpu" if core_type.lower() == "gpu" else "tensorflow"
        self.add_conda_package(f"{name}={version}" if version else name)

    def add_tensorflow_pip_package(self, core_type: str = "cpu", version: str | None = None) -> None:
        """Add the pip package ``tensorflow`` (``tensorflow-gpu`` when core_type='gpu'), optionally pinned."""
        name = "tensorflow-gpu" if core_type.lower() == "gpu" else "tensorflow"
        self.add_pip_package(f"{name}=={version}" if version else name)

    def add_cntk_package(self, core_type: str = "cpu") -> None:
        """Add the pip package ``cntk`` (``cntk-gpu`` when core_type='gpu'); CNTK has no wheels for current Pythons."""
        self.add_pip_package("cntk-gpu" if core_type.lower() == "gpu" else "cntk")

    # ----------------------------------------------------------------- output
    def serialize_to_string(self) -> str:
        """The conda environment file as YAML text (readable by conda, PyYAML and this SDK)."""
        data = self._conda_dependencies
        out = [
            "# Conda environment specification. The dependencies defined in this file will",
            "# be automatically provisioned for runs with userManagedDependencies=False.",
            "",
            "# Details about the Conda environment file format:",
            "# https://conda.io/docs/user-guide/tasks/manage-environments.html#create-env-file-manually",
            "",
            f"name: {_quote(data.get('name') or _DEFAULT_ENV_NAME)}",
            "dependencies:",
        ]
        for dep in data.get("dependencies") or []:
            if isinstance(dep, dict):
                for key, value in dep.items():
                    if isinstance(value, list):
                        out.append(f"- {_quote(key)}:")
                        out.extend(f"  - {_quote(v)}" for v in value)
                    else:
                        out.append(f"- {_quote(key)}: {_quote(value)}")
            else:
                out.append(f"- {_quote(dep)}")
        if "channels" in data:
            out.append("channels:")
            out.extend(f"- {_quote(c)}" for c in data.get("channels") or [])
        for key, value in data.items():
            if key in ("name", "dependencies", "channels"):
                continue
            if isinstance(value, dict):
                out.append(f"{_quote(key)}:")
                out.extend(f"  {_quote(k)}: {_quote(v)}" for k, v in value.items())
            elif isinstance(value, list):
                out.append(f"{_quote(key)}:")
                out.extend(f"- {_quote(v)}" for v in value)
            else:
                out.append(f"{_quote(key)}: {_quote(value)}")
        return "\n".join(out) + "\n"

    def save(self, path: str | os.PathLike[str] | None = None) -> str:
        """Write the file to ``path`` (default: the file it was loaded from); return the path written."""
        target = os.fspath(path) if path is not None else self._file_path
        if not target:
            from azuremlcore.exceptions import UserErrorException

            raise UserErrorException("save() needs a path: this CondaDependencies was not loaded from a file.")
        if os.path.isdir(target):
            target = os.path.join(target, "conda_dependencies.yml")
        parent = os.path.dirname(os.path.abspath(target))
        os.makedirs(parent, exist_ok=True)
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(self.serialize_to_string())
        return target

    def save_to_file(self, base_directory: str | os.PathLike[str], conda_file_path: str | None = None) -> str:
        """DEPRECATED, use :meth:`save`. Write to ``base_directory/conda_file_path`` (default 'conda_dependencies.yml')."""
        return self.save(os.path.join(os.fspath(base_directory), conda_file_path or "conda_dependencies.yml"))

    # ----------------------------------------------------------------- dunder
    def __eq__(self, other: object) -> bool:
        return isinstance(other, CondaDependencies) and self._conda_dependencies == other._conda_dependencies

    def __repr__(self) -> str:
        return f"CondaDependencies(conda={self.conda_packages!r}, pip={self.pip_packages!r})"

    def __deepcopy__(self, memo: dict[int, Any]) -> "CondaDependencies":
        new = CondaDependencies(_underlying_structure=self._conda_dependencies)
        new._file_path = self._file_path
        return new
