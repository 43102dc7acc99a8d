"""Test helper: scratch virtualenvs with a given MLflow and Python, where this checkout's bridge is visible.

A venv gets the MLflow line, what `companion_requirements` says it needs, scikit-learn, the SDK's
runtime requirements (setup.cfg) and, in its site-packages, a tiny `.dist-info` whose
entry_points.txt holds setup.cfg's `mlflow.*` groups: that is how MLflow finds plugins, and how
built job environments expose the bridge. The checkout itself comes from PYTHONPATH, so a venv
does not depend on where the checkout is and is cached across runs and checkouts, keyed by its
contents, in $AZUREMLCORE_TEST_VENVS (default ~/.cache/azuremlcore-test-venvs). uv builds it
(bytecode compiled: test processes run with PYTHONDONTWRITEBYTECODE). Interpreters are never downloaded.
"""
from __future__ import annotations

import configparser
import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_DIST = "amlcore_open_test_bridge-0.0.0.dist-info"


@dataclass(frozen=True)
class Case:
    """One MLflow requirement line on one Python version."""

    id: str
    python: str  # "3.8"
    mlflow: str  # a pip line, e.g. "mlflow-skinny==2.17.2"
    extras: tuple[str, ...] = ()  # e.g. skops, which MLflow 3's sklearn flavour uses


def cache_root() -> Path:
    """Where built venvs are kept."""
    return Path(os.environ.get("AZUREMLCORE_TEST_VENVS") or Path.home() / ".cache" / "azuremlcore-test-venvs")


def find_python(version: str) -> str | None:
    """An installed interpreter of `version` ("3.8") that runs: pyenv's, then PATH's; None when there is none."""
    found = sorted(glob.glob(str(Path.home() / f".pyenv/versions/{version}.*/bin/python")))
    for exe in [*found, shutil.which(f"python{version}"), f"/usr/bin/python{version}"]:
        if not exe or not os.access(exe, os.X_OK):
            continue
        try:  # pyenv's shims exist for every version but run only the selected ones
            out = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out == version:
            return exe
    return None


def _setup() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(REPO / "setup.cfg")
    return cfg


def entry_points_txt() -> str:
    """setup.cfg's MLflow plugin groups in entry_points.txt form."""
    cfg = _setup()
    groups = {}
    for line in cfg["options.entry_points"]:
        if line.startswith("mlflow."):
            groups[line] = cfg["options.entry_points"][line]
    return "".join(f"[{g}]\n{body.strip()}\n\n" for g, body in sorted(groups.items()))


def sdk_requirements(python: str) -> list[str]:
    """What the SDK needs at run time in a job's environment (not uv, which only builds environments)."""
    reqs = [r.strip() for r in _setup()["options"]["install_requires"].splitlines() if r.strip()]
    reqs = [r for r in reqs if not r.startswith("uv")]
    if tuple(int(x) for x in python.split(".")) < (3, 10):
        reqs.append("eval-type-backport>=0.2")  # pydantic reads `X | None` annotations
    return reqs


def requirements(case: Case) -> list[str]:
    """Everything installed into the case's venv."""
    from azuremlcore._environments._mlflow_support import companion_requirements

    return [case.mlflow, *companion_requirements(case.mlflow), "scikit-learn", "numpy", "pandas", *case.extras,
            *sdk_requirements(case.python)]


def venv_python(case: Case, uv: str) -> Path:
    """The interpreter of the case's venv, built on first use (ValueError when its Python is not installed)."""
    python = find_python(case.python)
    if python is None:
        raise ValueError(f"Python {case.python} is not installed")
    reqs = requirements(case)
    key = hashlib.sha256("\n".join([case.python, *reqs, entry_points_txt()]).encode()).hexdigest()[:16]
    final = cache_root() / f"{case.id}-{key}"
    exe = final / "bin" / "python"
    if exe.exists():
        return exe
    cache_root().mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{case.id}-", dir=cache_root()))
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    try:
        subprocess.run([uv, "venv", "-q", "--relocatable", "--python", python, str(tmp / "v")], check=True, env=env,
                       capture_output=True, text=True, timeout=300)
        subprocess.run([uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(tmp / "v" / "bin" / "python"),
                        *reqs], check=True, env=env, capture_output=True, text=True, timeout=600)
        site = subprocess.run([str(tmp / "v" / "bin" / "python"), "-c",
                               "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        dist = Path(site) / _DIST
        dist.mkdir()
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: amlcore-open-test-bridge\nVersion: 0.0.0\n")
        (dist / "entry_points.txt").write_text(entry_points_txt())
        try:
            os.rename(tmp / "v", final)
        except OSError:  # another process built it meanwhile: use theirs
            pass
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"building the venv for {case.id} failed: {exc.stderr}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return exe
