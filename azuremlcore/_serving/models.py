"""Model folders on this machine: ./azureml-models/<name>/<version>/ and $AZUREML_MODEL_DIR layouts.

Models come as `ModelFiles` (name, version, and how to download them), so this works for the public
`Model` objects without knowing them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, NamedTuple

MODELS_DIR = "azureml-models"


class ModelFiles(NamedTuple):
    """A registered model version: `download(folder)` copies its file or folder into folder."""

    name: str
    version: int
    download: Callable[[str], Any]


def _entry(version_dir: Path) -> Path:
    """A version folder's single file/folder, or the folder itself when it holds several."""
    entries = [p for p in version_dir.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 else version_dir


def _versions(name_dir: Path) -> list[int]:
    return sorted(int(p.name) for p in name_dir.iterdir() if p.is_dir() and p.name.isdigit()) if name_dir.is_dir() else []


def find_in_model_dir(model_dir: Path, name: str, version: int | None) -> Path | None:
    """The model's path under AZUREML_MODEL_DIR: '<dir>/<name>/<version>/...' (several models) or the
    version folder itself (one model)."""
    if (model_dir / name).is_dir():
        versions = _versions(model_dir / name)
        v = int(version) if version is not None else (versions[-1] if versions else None)
        if v is not None and (model_dir / name / str(v)).is_dir():
            return _entry(model_dir / name / str(v))
        return None
    if model_dir.is_dir() and model_dir.parent.name == name and model_dir.name.isdigit():
        if version is None or int(version) == int(model_dir.name):
            return _entry(model_dir)
    return None


def stage(models: list[ModelFiles], root: Path) -> Path:
    """Copy models into root/azureml-models/<name>/<version>/; returns the AZUREML_MODEL_DIR to use."""
    base = root / MODELS_DIR
    for m in models:
        dest = base / m.name / str(m.version)
        if not dest.is_dir():
            m.download(str(dest))
    if len(models) == 1:
        return base / models[0].name / str(models[0].version)
    return base


def version_folder(name: str, version: int) -> Path:
    """'azureml-models/<name>/<version>' under the current folder, where `Model.get_model_path` downloads to."""
    return Path(MODELS_DIR) / name / str(version)


def in_local_folder(name: str, version: int | None) -> str | None:
    """The model's path under ./azureml-models/<name>/ (the given version, else the newest), or None."""
    name_dir = Path(MODELS_DIR) / name
    versions = _versions(name_dir)
    v: Any = int(version) if version is not None else (versions[-1] if versions else None)
    if v is not None and (name_dir / str(v)).is_dir():
        return _entry(name_dir / str(v)).as_posix()
    return None
