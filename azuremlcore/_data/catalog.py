"""Dataset definitions and the records that keep them: saved (by id) and registered (by name and version).

A definition is a JSON-able dict: ``{"type": "file" | "tabular", "sources": [...], "format": {...},
"transforms": [...]}``. The public dataset classes wrap definitions and records; a run's outputs
are recorded with these functions directly.
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore._store.handle import WorkspaceHandle
    from azuremlcore._store.records import AssetRecord

KIND = "dataset"
SAVED_KIND = "dataset-saved"  # unregistered datasets a run used, kept so get_by_id finds them
ACTIVE = "active"


def file_definition(sources: list[dict[str, Any]]) -> dict[str, Any]:
    """The definition of the files the sources select."""
    return {"type": "file", "sources": sources, "transforms": []}


def tabular_definition(sources: list[dict[str, Any]], fmt: dict[str, Any]) -> dict[str, Any]:
    """The definition of a table read from the sources' files in format `fmt`."""
    return {"type": "tabular", "sources": sources, "format": fmt, "transforms": []}


def delimited_format(*, separator: str = ",", header: bool = True, encoding: str = "utf-8",
                     infer_column_types: bool = True, include_path: bool = False, skip_rows: int = 0,
                     comment: str | None = None) -> dict[str, Any]:
    """The format of CSV/TSV files (`encoding` a Python codec name)."""
    return {"kind": "delimited", "separator": separator, "header": header, "encoding": encoding.replace("utf8", "utf-8"),
            "infer_column_types": infer_column_types, "include_path": include_path, "skip_rows": int(skip_rows or 0),
            "comment": comment}


def parquet_format(include_path: bool = False) -> dict[str, Any]:
    """The format of Parquet files."""
    return {"kind": "parquet", "include_path": include_path}


def save(ws: "WorkspaceHandle", dataset_type: str, definition: dict[str, Any]) -> str:
    """Keep an unregistered dataset's definition under a new id (so runs can refer to it); returns the id."""
    dataset_id = str(uuid.uuid4())
    ws.store.put_asset(ws.id, SAVED_KIND, dataset_id,
                       {"id": dataset_id, "datasetType": dataset_type, "definition": definition})
    return dataset_id


def register(ws: "WorkspaceHandle", name: str, dataset_type: str, definition: dict[str, Any], *,
             description: str | None = None, tags: dict[str, str] | None = None, new_version: bool = False,
             exist_ok: bool = False, visible: bool = True) -> tuple["AssetRecord", bool]:
    """Register a definition under name; returns (record, whether it is a new version).

    The same definition again returns the latest version; another one under an existing name needs
    `new_version` (or `exist_ok` to get the registered one back unchanged).
    """
    if not name or not isinstance(name, str):
        raise UserErrorException("register needs a dataset name.")
    latest = ws.store.get_asset(ws.id, KIND, name)
    if latest is not None and not new_version:
        if latest.spec.get("definition") == definition or exist_ok:
            return latest, False
        raise UserErrorException(
            f"There is already a dataset registered under name '{name}' (version {latest.version}) with another "
            "definition. Pass create_new_version=True to register this one as a new version, or exist_ok=True "
            "to use the registered one.")
    spec = {"id": str(uuid.uuid4()), "datasetType": dataset_type, "definition": definition}
    rec = ws.store.put_asset(ws.id, KIND, name, spec, description=description,
                             tags={str(k): str(v) for k, v in (tags or {}).items()},
                             properties={"state": ACTIVE, "visible": "true" if visible else "false"})
    return rec, True
