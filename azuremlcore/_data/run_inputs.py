"""Datasets a run consumed: recorded in the run's details ('inputDatasets') and read back by name."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azuremlcore._store.protocol import WorkspaceStore

_MECHANISM = {"direct": "Direct", "mount": "Mount", "download": "Download"}


def record_input(store: "WorkspaceStore", run_id: str, dataset: dict[str, Any], name: str, mode: str,
                 value: str) -> None:
    """Add one input to the run's details['inputDatasets'] (Azure ML's shape, plus the local path).

    `dataset` is the dataset's reference: {"id": ..., "name": ..., "version": ...}.
    """
    current = list(store.get_run(run_id).details.get("inputDatasets", []))
    current = [e for e in current if e.get("consumptionDetails", {}).get("inputName") != name]
    current.append({
        "dataset": dict(dataset),
        "consumptionDetails": {"type": "RunInput", "inputName": name, "mechanism": _MECHANISM[mode]},
        "pathOnCompute": value if mode != "direct" else None,
    })
    store.update_run(run_id, details={"inputDatasets": current})


def input_entries(store: "WorkspaceStore", run_id: str) -> dict[str, tuple[str | None, str | None]]:
    """The run's inputs by name: (local path, dataset id); the path is None for datasets passed directly."""
    out: dict[str, tuple[str | None, str | None]] = {}
    for entry in store.get_run(run_id).details.get("inputDatasets", []):
        name = entry.get("consumptionDetails", {}).get("inputName")
        if not name:
            continue
        out[name] = (entry.get("pathOnCompute") or None, (entry.get("dataset") or {}).get("id"))
    return out
