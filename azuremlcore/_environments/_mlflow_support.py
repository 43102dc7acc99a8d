"""Which MLflow versions the MLflow bridge (`azuremlmlflow`) serves, readable without importing it.

The bridge works with `mlflow` and `mlflow-skinny` from 2.10 up to the newest 3.x, on Python 3.8
to 3.13 (MLflow 3-only features, such as logged models, are there when MLflow 3 is). An
environment whose spec can only install an older MLflow would fail at its first MLflow call, so
`submit()` asks `check_mlflow_requirement` about each MLflow line first. Nothing here imports MLflow
or the bridge: the core never does.
"""
from __future__ import annotations

import re

#: The MLflow releases the bridge serves (pip specifier for `mlflow` / `mlflow-skinny`).
SUPPORTED_MLFLOW = ">=2.10"
#: The oldest supported release, as a version string.
OLDEST_MLFLOW = "2.10"
#: MLflow distributions the bridge plugs into (`azureml-mlflow` is mapped to mlflow-skinny by the environment builder).
MLFLOW_DISTRIBUTIONS = ("mlflow", "mlflow-skinny")
#: Releases before this one import `pkg_resources`, which setuptools 81 removed and uv venvs lack.
_NEEDS_PKG_RESOURCES_BEFORE = "2.16"
_PKG_RESOURCES = "setuptools<81"
_HUGE = "9999"


def _parse(req: str):  # type: ignore[no-untyped-def]
    """The packaging Requirement of a pip line (None for lines that are not a plain requirement)."""
    from packaging.requirements import InvalidRequirement, Requirement

    line = req.split(" #", 1)[0].strip()
    if not line or line.startswith(("-", "#")) or "://" in line or line.startswith((".", "/")):
        return None  # options, URLs and paths: nothing to judge without fetching them
    try:
        return Requirement(line)
    except InvalidRequirement:
        return None


def _candidates(spec) -> list:  # type: ignore[no-untyped-def]
    """Versions at every edge of a specifier's clauses: if any version satisfies it, one of these does."""
    from packaging.version import InvalidVersion, Version

    found = {Version(OLDEST_MLFLOW), Version(_NEEDS_PKG_RESOURCES_BEFORE), Version(_HUGE)}
    for clause in spec:
        text = clause.version.rstrip(".*").rstrip(".")
        try:
            v = Version(text)
        except InvalidVersion:  # `===` arbitrary strings
            continue
        rel = list(v.release)
        found.add(v)
        found.add(Version(".".join(map(str, rel + [1]))))  # just above: >2.10 admits 2.10.1 (and 2.10.0.1)
        for i in range(len(rel)):  # the next release at each level: 2.17.2 -> 2.17.3, 2.18, 3
            found.add(Version(".".join(map(str, rel[:i] + [rel[i] + 1]))))
        if v.pre is not None or v.dev is not None:
            found.add(Version(v.base_version))
    return sorted(found)


def _admitted(req: str) -> list | None:  # type: ignore[no-untyped-def]
    """The edge versions a requirement admits (None when it is not an MLflow requirement, or cannot be judged)."""
    parsed = _parse(req)
    if parsed is None or re.sub(r"[-_.]+", "-", parsed.name).lower() not in MLFLOW_DISTRIBUTIONS:
        return None
    return [v for v in _candidates(parsed.specifier) if parsed.specifier.contains(v, prereleases=True)]


def check_mlflow_requirement(req: str) -> str | None:
    """What to change when a pip line for mlflow/mlflow-skinny can only install a version the bridge cannot serve.

    None when the line is fine (or is not about MLflow, or cannot be judged offline: URLs, paths).
    E.g. ``check_mlflow_requirement("mlflow==1.30.0")`` names the supported range.
    """
    from packaging.version import Version

    admitted = _admitted(req)
    if admitted is None:
        return None
    if any(v >= Version(OLDEST_MLFLOW) for v in admitted):
        return None
    name = _parse(req).name  # type: ignore[union-attr]
    return (f"'{req.strip()}' can only install MLflow older than {OLDEST_MLFLOW}, and the MLflow bridge of this SDK "
            f"needs {name}{SUPPORTED_MLFLOW} (2.x or 3.x). Change the requirement to e.g. '{name}>={OLDEST_MLFLOW}' "
            f"(or '{name}' for the newest release).")


def companion_requirements(req: str) -> list[str]:
    """Packages an environment needs beside this MLflow line for `import mlflow` to work there.

    mlflow/mlflow-skinny before 2.16 import `pkg_resources`: a fresh uv virtualenv has no setuptools,
    and setuptools 81+ has no pkg_resources, so such a line needs ``setuptools<81`` too. Given only
    when the line cannot install 2.16 or newer (uv picks the newest admitted release).
    """
    from packaging.version import Version

    admitted = [v for v in _admitted(req) or [] if v >= Version(OLDEST_MLFLOW)]  # refused lines need nothing
    if not admitted or any(v >= Version(_NEEDS_PKG_RESOURCES_BEFORE) for v in admitted):
        return []
    return [_PKG_RESOURCES]
