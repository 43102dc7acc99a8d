"""When a submitted run's script ends: upload its OutputFileDatasetConfig folders and record the datasets.

Each output noted by `OutputFileDatasetConfig._resolve_for_run` is uploaded to its datastore path
(``{run-id}``/``{output-name}`` filled in), saved as a dataset, listed in the run's
``outputDatasets`` detail, and registered when the run completed and registration was asked for.
Everything here works on the workspace's records (the runner has no public objects).
"""
from __future__ import annotations

import fnmatch
import shutil
import tempfile
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azuremlcore._store.handle import WorkspaceHandle

# Where a run's details keep the outputs its arguments declared (written by OutputFileDatasetConfig).
RUN_DETAILS_KEY = "_outputDatasetConfigs"


def finish_outputs(ws: "WorkspaceHandle", run_id: str, completed: bool) -> None:
    """Upload, record (and when `completed`, register) every output of the run; problems go to the log, never raise."""
    try:
        specs = ws.store.get_run(run_id).details.get(RUN_DETAILS_KEY) or []
    except Exception:  # noqa: BLE001 - the run's status must still be recorded by the caller
        traceback.print_exc()
        return
    entries = []
    for spec in specs:
        try:
            entry = _finish_one(ws, run_id, spec, completed)
        except Exception:  # noqa: BLE001 - one broken output must not lose the others
            print(f"Output '{spec.get('name')}' could not be stored:", flush=True)
            traceback.print_exc()
            continue
        if entry is not None:
            entries.append(entry)
    if entries:
        ws.store.update_run(run_id, details={"outputDatasets": entries})


def _files(folder: Path, globs: list[str] | None) -> list[Path]:
    found = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    if globs:
        found = [p for p in found if any(fnmatch.fnmatch(p.relative_to(folder).as_posix(), g) for g in globs)]
    return found


def _definition(datastore: str, path: str, tabular: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """(dataset type, definition) of what an output wrote to `path` on `datastore`."""
    from azuremlcore._data import catalog, globbing

    if not tabular:
        return "file", catalog.file_definition([{"datastore": datastore, "path": globbing.normalise(f"{path}/**")}])
    sources = [{"datastore": datastore, "path": globbing.normalise(f"{path}/{tabular.get('path_glob') or '**'}")}]
    include_path = tabular.get("include_path", False)
    if tabular["kind"] == "parquet":
        fmt = catalog.parquet_format(include_path)
    else:
        fmt = catalog.delimited_format(separator=tabular.get("separator", ","), header=bool(tabular.get("header", True)),
                                       include_path=include_path)
    return "tabular", catalog.tabular_definition(sources, fmt)


def _finish_one(ws: "WorkspaceHandle", run_id: str, spec: dict[str, Any], completed: bool) -> dict[str, Any] | None:
    from azuremlcore._data import catalog, datastores, transfers

    folder = Path(spec["localPath"])
    files = _files(folder, spec.get("sourceGlobs")) if folder.is_dir() else []
    if not files:
        print(f"Output '{spec['name']}': nothing was written to {folder}; no dataset made.", flush=True)
        return None
    datastore = spec.get("datastore") or datastores.default_name(ws)
    backend = datastores.backend(ws, datastore)
    path = spec["path"].replace("{run-id}", run_id).replace("{output-name}", spec["name"]).strip("/")
    with tempfile.TemporaryDirectory(prefix="azuremlcore-output-") as tmp:
        staged = folder
        if spec.get("sourceGlobs"):  # upload only the selected files
            staged = Path(tmp)
            for f in files:
                dest = staged / f.relative_to(folder)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest)
        transfers.put_many(backend, transfers.folder_jobs(staged, path), overwrite=bool(spec.get("overwrite")),
                           show_progress=False, label=datastore)
    dataset_type, definition = _definition(datastore, path, spec.get("tabular"))
    saved_id = catalog.save(ws, dataset_type, definition)
    identifier: dict[str, Any] = {"savedId": saved_id}
    reference = {"id": saved_id, "name": None, "version": None}
    registration = spec.get("register")
    if registration and completed:
        rec, _ = catalog.register(ws, registration["name"], dataset_type, definition,
                                  description=registration.get("description"), tags=registration.get("tags"),
                                  new_version=True)
        identifier.update(registeredId=rec.spec["id"], registeredVersion=str(rec.version))
        reference.update(name=rec.name, version=rec.version)
    return {"identifier": identifier, "outputType": "RunOutput", "outputDetails": {"outputName": spec["name"]},
            "dataset": reference, "destination": {"datastore": datastore, "path": path},
            "pathOnCompute": str(folder)}
