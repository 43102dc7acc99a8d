"""When a submitted run's script ends: upload its OutputFileDatasetConfig folders and record the datasets.

Each output noted by `OutputFileDatasetConfig._resolve_for_run` is uploaded to its datastore path
(``{run-id}``/``{output-name}`` filled in), saved as a dataset, listed in the run's
``outputDatasets`` detail, and registered when the run completed and registration was asked for.
"""
from __future__ import annotations

import fnmatch
import shutil
import tempfile
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore.data.output_dataset_config import RUN_DETAILS_KEY

if TYPE_CHECKING:
    from azuremlcore.run import Run


def finish_outputs(run: "Run", completed: bool) -> None:
    """Upload, record (and when `completed`, register) every output of the run; problems go to the log, never raise."""
    try:
        specs = run._store.get_run(run.id).details.get(RUN_DETAILS_KEY) or []
    except Exception:  # noqa: BLE001 - the run's status must still be recorded by the caller
        traceback.print_exc()
        return
    entries = []
    for spec in specs:
        try:
            entry = _finish_one(run, spec, completed)
        except Exception:  # noqa: BLE001 - one broken output must not lose the others
            print(f"Output '{spec.get('name')}' could not be stored:", flush=True)
            traceback.print_exc()
            continue
        if entry is not None:
            entries.append(entry)
    if entries:
        run._store.update_run(run.id, details={"outputDatasets": entries})


def _files(folder: Path, globs: list[str] | None) -> list[Path]:
    found = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    if globs:
        found = [p for p in found if any(fnmatch.fnmatch(p.relative_to(folder).as_posix(), g) for g in globs)]
    return found


def _finish_one(run: "Run", spec: dict[str, Any], completed: bool) -> dict[str, Any] | None:
    from azuremlcore.data.dataset_factory import FileDatasetFactory, TabularDatasetFactory
    from azuremlcore.datastore import Datastore

    ws = run.experiment.workspace
    folder = Path(spec["localPath"])
    files = _files(folder, spec.get("sourceGlobs")) if folder.is_dir() else []
    if not files:
        print(f"Output '{spec['name']}': nothing was written to {folder}; no dataset made.", flush=True)
        return None
    datastore = Datastore.get(ws, spec["datastore"]) if spec.get("datastore") else ws.get_default_datastore()
    path = spec["path"].replace("{run-id}", run.id).replace("{output-name}", spec["name"]).strip("/")
    with tempfile.TemporaryDirectory(prefix="azuremlcore-output-") as tmp:
        staged = folder
        if spec.get("sourceGlobs"):  # upload only the selected files
            staged = Path(tmp)
            for f in files:
                dest = staged / f.relative_to(folder)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest)
        datastore.upload(str(staged), target_path=path, overwrite=bool(spec.get("overwrite")), show_progress=False)
    tabular = spec.get("tabular")
    if tabular:
        pattern = f"{path}/{tabular.get('path_glob') or '**'}"
        if tabular["kind"] == "parquet":
            dataset = TabularDatasetFactory.from_parquet_files((datastore, pattern), validate=False,
                                                               include_path=tabular.get("include_path", False))
        else:
            dataset = TabularDatasetFactory.from_delimited_files(
                (datastore, pattern), validate=False, include_path=tabular.get("include_path", False),
                separator=tabular.get("separator", ","), header=tabular.get("header", True))
    else:
        dataset = FileDatasetFactory.from_files((datastore, f"{path}/**"), validate=False)
    saved_id = dataset._ensure_id()
    identifier: dict[str, Any] = {"savedId": saved_id}
    reference = {"id": saved_id, "name": None, "version": None}
    registration = spec.get("register")
    if registration and completed:
        registered = dataset.register(ws, registration["name"], description=registration.get("description"),
                                      tags=registration.get("tags"), create_new_version=True)
        identifier.update(registeredId=registered.id, registeredVersion=str(registered.version))
        reference.update(name=registered.name, version=registered.version)
    return {"identifier": identifier, "outputType": "RunOutput", "outputDetails": {"outputName": spec["name"]},
            "dataset": reference, "destination": {"datastore": datastore.name, "path": path},
            "pathOnCompute": str(folder)}
