"""Curated environments ("AzureML-Minimal", "AzureML-sklearn-1.5", ...) made for this machine's Python.

Azure ML's curated environments are Docker images with a fixed Python. Here a curated name becomes a
system-managed environment for the current interpreter with the pip packages its name promises
(versions are not pinned: old pins such as scikit-learn 1.0 have no wheels for current Pythons).
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


def curated_pip_packages(name: str) -> list[str]:
    """The pip packages for a curated name ([] for Minimal), plus mlflow-skinny for every non-minimal one."""
    low = name.lower()
    packages: list[str] = []
    for keyword, pkgs in _KEYWORDS:
        if keyword in low:
            packages.extend(p for p in pkgs if p not in packages)
    if "minimal" not in low:
        packages.append("mlflow-skinny")  # Azure ML's curated images ship (azureml-)mlflow
    return packages


def curated_environment(name: str, version: str | None = None) -> "Environment":
    """A system-managed Environment for ``name`` that uses this interpreter's Python version."""
    from azuremlcore.conda_dependencies import CondaDependencies
    from azuremlcore.environment import Environment

    env = Environment(name)
    env.version = version or "1"
    pip = curated_pip_packages(name)
    cd = CondaDependencies.create(pip_packages=pip)
    low = name.lower()
    if "torch" in " ".join(pip) and not re.search(r"gpu|cuda", low):
        # the CPU build of torch is ~200 MB instead of ~2.5 GB of CUDA wheels
        cd.set_pip_option("--extra-index-url https://download.pytorch.org/whl/cpu")
    env.python.conda_dependencies = cd
    return env
