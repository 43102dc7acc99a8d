"""Datasets a run consumed: recorded in the run's details ('inputDatasets') and read back by name."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azuremlcore.run import Run

_MECHANISM = {"direct": "Direct", "mount": "Mount", "download": "Download"}


def record_input(run: "Run", dataset: Any, name: str, mode: str, value: str) -> None:
    """Add one input to the run's details['inputDatasets'] (Azure ML's shape, plus the local path)."""
    store = run._store
    current = list(store.get_run(run.id).details.get("inputDatasets", []))
    current = [e for e in current if e.get("consumptionDetails", {}).get("inputName") != name]
    current.append({
        "dataset": {"id": dataset._ensure_id(), "name": dataset.name, "version": dataset.version},
        "consumptionDetails": {"type": "RunInput", "inputName": name, "mechanism": _MECHANISM[mode]},
        "pathOnCompute": value if mode != "direct" else None,
    })
    store.update_run(run.id, details={"inputDatasets": current})


def input_datasets(run: "Run") -> dict[str, Any]:
    """`run.input_datasets`: name -> local path (mounted/downloaded files) or the dataset (direct)."""
    from azuremlcore.data.abstract_dataset import AbstractDataset

    ws = run.experiment.workspace
    out: dict[str, Any] = {}
    for entry in run._store.get_run(run.id).details.get("inputDatasets", []):
        name = entry.get("consumptionDetails", {}).get("inputName")
        if not name:
            continue
        if entry.get("pathOnCompute"):
            out[name] = entry["pathOnCompute"]
        else:
            out[name] = AbstractDataset.get_by_id(ws, entry["dataset"]["id"])
    return out
