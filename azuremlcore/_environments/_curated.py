"""Curated environments ("AzureML-Minimal", "AzureML-sklearn-1.5", ...) made for this machine's Python.

Azure ML's curated environments are Docker images with a fixed Python. Here a curated name becomes a
system-managed environment for the current interpreter with the pip packages its name promises, the
framework pinned to the release series its name says (``AzureML-sklearn-1.5`` installs scikit-learn
1.5.x, ``AzureML-pytorch-2.2-cpu`` torch 2.2.x); a name without a version takes the newest release.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from azuremlcore.environment import Environment

# A few names listed by Environment.list(), as Azure ML lists its curated environments too.
CURATED_NAMES: tuple[str, ...] = (
    "AzureML-Minimal",
    "AzureML-sklearn-1.5",
    "AzureML-lightgbm-3.3",
    "AzureML-pytorch-2.2-cpu",
    "AzureML-tensorflow-2.16-cuda12",
)

# keyword in the lower-cased name -> pip packages it brings (checked in order; several may match)
_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sklearn", ("scikit-learn", "pandas", "numpy", "scipy", "joblib")),
    ("scikit", ("scikit-learn", "pandas", "numpy", "scipy", "joblib")),
    ("lightgbm", ("lightgbm", "scikit-learn", "pandas", "numpy")),
    ("xgboost", ("xgboost", "scikit-learn", "pandas", "numpy")),
    ("pytorch", ("torch", "torchvision", "numpy")),
    ("acpt", ("torch", "torchvision", "numpy")),
    ("tensorflow", ("tensorflow", "numpy")),
    ("automl", ("scikit-learn", "pandas", "numpy", "scipy")),
    ("responsibleai", ("scikit-learn", "pandas", "numpy")),
)


# keyword in the name -> the package whose release series the version after the keyword names
_VERSIONED: dict[str, str] = {"sklearn": "scikit-learn", "scikit-learn": "scikit-learn", "lightgbm": "lightgbm",
                              "xgboost": "xgboost", "pytorch": "torch", "tensorflow": "tensorflow"}


def _pins(low: str) -> dict[str, str]:
    """{package: 'package==X.Y.*'} for the framework versions a curated name states ('sklearn-1.5' -> 1.5.*)."""
    pins: dict[str, str] = {}
    for keyword, package in _VERSIONED.items():
        m = re.search(rf"(?:^|-){re.escape(keyword)}-(\d+(?:\.\d+)?)(?=-|$)", low)
        if m:
            pins[package] = f"{package}=={m.group(1)}.*"
    return pins


def curated_pip_packages(name: str) -> list[str]:
    """The pip packages for a curated name ([] for Minimal), the framework pinned as the name says, plus mlflow-skinny."""
    low = name.lower()
    packages: list[str] = []
    for keyword, pkgs in _KEYWORDS:
        if keyword in low:
            packages.extend(p for p in pkgs if p not in packages)
    pins = _pins(low)
    packages = [pins.get(p, p) for p in packages]
    if "minimal" not in low:
        packages.append("mlflow-skinny")  # Azure ML's curated images ship (azureml-)mlflow
    return packages


def curated_python(name: str) -> str | None:
    """The Python a curated name states ('...-py38-...' -> '3.8'), raised to the oldest one jobs support; else None."""
    m = re.search(r"(?:^|-)py(3)(\d{1,2})(?=-|$)", name.lower())
    if not m:
        return None
    minor = max(int(m.group(2)), 8)  # jobs need 3.8+: the closest Python that still runs the SDK's in-job part
    return f"3.{minor}"


def curated_environment(name: str, version: str | None = None) -> "Environment":
    """A system-managed Environment for ``name``: the Python its name states (3.8 at least), else this one's."""
    from azuremlcore.conda_dependencies import CondaDependencies
    from azuremlcore.environment import Environment

    env = Environment(name)
    env.version = version or "1"
    pip = curated_pip_packages(name)
    python = curated_python(name)
    cd = CondaDependencies.create(pip_packages=pip, python_version=python) if python else \
        CondaDependencies.create(pip_packages=pip)
    low = name.lower()
    if "torch" in " ".join(pip) and not re.search(r"gpu|cuda", low):
        # the CPU build of torch is ~200 MB instead of ~2.5 GB of CUDA wheels
        cd.set_pip_option("--extra-index-url https://download.pytorch.org/whl/cpu")
    env.python.conda_dependencies = cd
    return env
