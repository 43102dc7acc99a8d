"""Make this SDK present inside the environments it builds, as an installed distribution.

An environment gets three files in its site-packages, rewritten whenever the SDK moved or changed:

* ``_azuremlcore_sdk.pth``: the folder ``$AZUREMLCORE_HOME/sdk/<key>/`` (symlinks to the installed
  ``azuremlcore``/``azuremlmlflow``), so the job imports the very code that submitted it;
* ``_azuremlcore_startup.pth``: the start-up hook (``azuremlcore._startup``) that switches on the
  ``azureml`` alias and a job's exit handling when the runner's variables ask for them;
* ``amlcore_open-<version>.dist-info/``: metadata with the MLflow entry points, so that MLflow (which
  finds plugins through installed distributions, never through ``.pth`` paths) sees the bridge.

Nothing is installed from an index: a job always runs the submitting SDK's own version.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

DIST_NAME = "amlcore-open"
PTH_NAME = "_azuremlcore_sdk.pth"
STARTUP_PTH_NAME = "_azuremlcore_startup.pth"
# The entry points of setup.cfg that code inside a job needs; used when the SDK runs from a source tree
# without installed metadata (tests check that they match setup.cfg).
FALLBACK_ENTRY_POINTS: dict[str, dict[str, str]] = {
    "mlflow.tracking_store": {"azureml": "azuremlmlflow.plugins:AzureMLTrackingStore"},
    "mlflow.artifact_repository": {"azureml": "azuremlmlflow.plugins:AzureMLArtifactRepository"},
    "mlflow.request_header_provider": {"azureml": "azuremlmlflow.plugins:AzureMLRequestHeaderProvider"},
    "mlflow.run_context_provider": {"azureml": "azuremlmlflow.plugins:AzureMLRunContextProvider"},
    "mlflow.model_registry_store": {"azureml": "azuremlmlflow.plugins:AzureMLModelRegistryStore"},
    "mlflow.project_backend": {"azureml": "azuremlmlflow.projects:AzureMLProjectBackend"},
}
# Fallback when the SDK's own metadata cannot be read (e.g. running from a source tree).
_SDK_REQUIREMENTS_FALLBACK = ("SQLAlchemy>=2.0", "alembic>=1.12", "pydantic>=2.5", "requests>=2.31", "PyYAML>=6",
                              "orjson>=3.9")
# Requirements only the host needs: uv builds environments, the rest serve the `aml` command line.
_NOT_IN_JOBS = frozenset({"uv", "jmespath", "rich", "argcomplete"})
# What the in-job part needs on Pythons older than the SDK's own floor (pydantic reads `X | None` annotations).
_OLD_PYTHON_REQUIREMENTS = ("eval-type-backport>=0.2",)


def _home() -> Path:
    from azuremlcore._store import azuremlcore_home

    return azuremlcore_home()


def _site_dirs() -> list[str]:
    """This interpreter's site-packages only: metadata found through the cwd or a source tree on sys.path
    (e.g. a stale ``*.egg-info`` next to the code) would make the cache key differ between processes."""
    import site

    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    user = site.getusersitepackages() if hasattr(site, "getusersitepackages") else None
    return dirs + ([user] if isinstance(user, str) else [])


def distribution(name: str = DIST_NAME) -> Any:
    """The installed distribution ``name`` of this interpreter (None when absent)."""
    from importlib import metadata

    return next(iter(metadata.distributions(name=name, path=_site_dirs())), None)


def host_version(name: str) -> str | None:
    """The version of ``name`` installed in this interpreter, or None."""
    dist = distribution(name)
    return dist.version if dist is not None else None


def sdk_version() -> str:
    """The SDK's version: installed metadata, else the package's ``__version__``."""
    from azuremlcore._version import __version__

    return host_version(DIST_NAME) or __version__


def pip_name(req: str) -> str:
    """The normalised project name of a pip requirement line ('' for options, URLs and paths)."""
    m = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    if not m or req.strip().startswith("-") or "://" in req.split("@", 1)[0]:
        return ""
    return re.sub(r"[-_.]+", "-", m.group(1)).lower()


def sdk_requirements(python_version: str) -> list[str]:
    """The SDK's runtime requirements (not uv nor the command line's) for an env on ``python_version``.

    On this interpreter's own minor version they are pinned to the versions installed here, so code
    inside the run behaves the same; on other Pythons uv picks versions that support that Python.
    """
    dist = distribution(DIST_NAME)
    raw = (dist.requires or []) if dist is not None else []
    reqs = [r.split(";")[0].strip() for r in raw if "extra ==" not in r and "extra==" not in r] or list(
        _SDK_REQUIREMENTS_FALLBACK)
    names = {pip_name(r) for r in reqs}
    for extra in _SDK_REQUIREMENTS_FALLBACK:  # e.g. PyYAML before the packaging metadata lists it
        if pip_name(extra) not in names:
            reqs.append(extra)
    reqs = [r for r in reqs if pip_name(r) not in _NOT_IN_JOBS]
    import sys

    major_minor = tuple(int(x) for x in python_version.split(".")[:2])
    if major_minor < (3, 10):
        reqs += list(_OLD_PYTHON_REQUIREMENTS)
    if major_minor != sys.version_info[:2]:
        return reqs
    pinned = []
    for r in reqs:
        version = host_version(pip_name(r))
        pinned.append(f"{pip_name(r)}=={version}" if version else r)
    return pinned


def _package_locations() -> dict[str, str]:
    import importlib.util

    # This file is azuremlcore/_environments/_sdk_link.py: the package is two folders up.
    packages = {"azuremlcore": str(Path(__file__).resolve().parents[1])}
    spec = importlib.util.find_spec("azuremlmlflow")
    if spec is not None and spec.submodule_search_locations:
        packages["azuremlmlflow"] = str(Path(list(spec.submodule_search_locations)[0]).resolve())
    return packages


def sdk_dir() -> Path:
    """``$AZUREMLCORE_HOME/sdk/<hash>/`` holding symlinks to this SDK's packages (created on first use)."""
    packages = _package_locations()
    key = hashlib.sha256(json.dumps([packages, sdk_version()], sort_keys=True).encode()).hexdigest()[:16]
    target = _home() / "sdk" / key
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    for name, location in packages.items():
        try:
            os.symlink(location, tmp / name, target_is_directory=True)
        except OSError:  # no symlink rights (Windows without developer mode): copy instead
            shutil.copytree(location, tmp / name, ignore=shutil.ignore_patterns("__pycache__"))
    try:
        os.rename(tmp, target)
    except OSError:  # another process made it first: theirs is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def entry_points() -> dict[str, dict[str, str]]:
    """The MLflow entry points of the installed SDK (setup.cfg's), for the env's dist-info."""
    dist = distribution(DIST_NAME)
    found: dict[str, dict[str, str]] = {}
    for ep in (dist.entry_points if dist is not None else []):
        if ep.group.startswith("mlflow."):
            found.setdefault(ep.group, {})[ep.name] = ep.value
    return found or {g: dict(v) for g, v in FALLBACK_ENTRY_POINTS.items()}


def _dist_info_files(version: str) -> dict[str, str]:
    eps = "".join(f"[{group}]\n" + "".join(f"{n} = {v}\n" for n, v in sorted(items.items())) + "\n"
                  for group, items in sorted(entry_points().items()))
    metadata = (f"Metadata-Version: 2.1\nName: {DIST_NAME}\nVersion: {version}\n"
                "Summary: azuremlcore, linked into this environment by the SDK that built it\n")
    return {"METADATA": metadata, "entry_points.txt": eps, "INSTALLER": "azuremlcore\n",
            "top_level.txt": "azuremlcore\nazuremlmlflow\n"}


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}"
    tmp.write_text(text)
    os.replace(tmp, path)


def site_packages(env_dir: Path) -> Path:
    """The site-packages folder of a virtualenv or conda env."""
    if os.name == "nt":
        return env_dir / "Lib" / "site-packages"
    found = sorted(glob.glob(str(env_dir / "lib" / "python*" / "site-packages")))
    if not found:
        from azuremlcore.exceptions import UserErrorException

        raise UserErrorException(f"No site-packages directory in {env_dir}.")
    return Path(found[0])


def link_sdk(env_dir: Path) -> None:
    """Point the env at this SDK: path and start-up ``.pth`` files, and the dist-info that carries the entry points.

    Cheap when nothing changed (reads three small files); safe while jobs run in the env (atomic replaces).
    """
    from azuremlcore._startup_names import PTH_LINE

    site = site_packages(env_dir)
    _write_if_changed(site / PTH_NAME, str(sdk_dir()) + "\n")
    _write_if_changed(site / STARTUP_PTH_NAME, PTH_LINE)
    version = sdk_version()
    dist_name = DIST_NAME.replace("-", "_")
    info = site / f"{dist_name}-{version}.dist-info"
    for stale in site.glob(f"{dist_name}-*.dist-info"):
        if stale != info:
            shutil.rmtree(stale, ignore_errors=True)
    info.mkdir(exist_ok=True)
    files = _dist_info_files(version)
    for name, text in files.items():
        _write_if_changed(info / name, text)
    record = "".join(f"{info.name}/{name},,\n" for name in [*files, "RECORD"])
    _write_if_changed(info / "RECORD", record)
