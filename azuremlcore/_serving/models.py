"""Model folders on this machine: ./azureml-models/<name>/<version>/ and $AZUREML_MODEL_DIR layouts."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore._tracking import run_env

if TYPE_CHECKING:
    from azuremlcore.model import Model
    from azuremlcore.workspace import Workspace

MODELS_DIR = "azureml-models"


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


def stage(models: list["Model"], root: Path) -> Path:
    """Copy models into root/azureml-models/<name>/<version>/; returns the AZUREML_MODEL_DIR to use."""
    base = root / MODELS_DIR
    for m in models:
        dest = base / m.name / str(m.version)
        if not dest.is_dir():
            m.download(str(dest), exist_ok=True)
    if len(models) == 1:
        return base / models[0].name / str(models[0].version)
    return base


def _find_workspace(workspace: "Workspace | None") -> "Workspace | None":
    if workspace is not None:
        return workspace
    if os.environ.get(run_env.RUN_ID) and os.environ.get(run_env.WORKSPACE_NAME):
        from azuremlcore.run import Run

        return Run.get_context().experiment.workspace
    try:
        from azuremlcore.workspace import Workspace

        return Workspace.from_config()
    except Exception:  # noqa: BLE001 - no config file (or no such workspace): look only at local folders
        return None


def local_model_path(name: str, version: int | None, workspace: "Workspace | None") -> str:
    """'azureml-models/<name>/<version>/<file>' under the current folder, downloaded first when needed."""
    from azuremlcore.model import Model, _ModelNotFound

    ws = _find_workspace(workspace)
    if ws is not None:
        try:
            model = Model(ws, name, version=version)
        except _ModelNotFound:
            model = None
        if model is not None:
            folder = Path(MODELS_DIR) / name / str(model.version)
            target = folder / model._record.spec["path"]
            if not target.exists():
                model.download(str(folder), exist_ok=True)
            return target.as_posix()
    name_dir = Path(MODELS_DIR) / name
    versions = _versions(name_dir)
    v: Any = int(version) if version is not None else (versions[-1] if versions else None)
    if v is not None and (name_dir / str(v)).is_dir():
        return _entry(name_dir / str(v)).as_posix()
    where = f"workspace '{ws.name}'" if ws is not None else "any workspace (no config file found)"
    raise _ModelNotFound(f"Model '{name}'" + (f" version {version}" if version is not None else "") +
                         f" not found in {os.path.abspath(MODELS_DIR)} or in {where}. Register it first, or pass "
                         "_workspace=ws.")
