"""DatasetSnapshot: a materialised copy of a registered dataset version, kept on a datastore.

`ds.create_snapshot('before-cleanup')` reads the data now and stores it under
``snapshots/<dataset name>/<version>/<snapshot name>/`` on the default (or a given) datastore:
tabular data as one Parquet file, file datasets as a copy of the files. Later changes to the
source files do not change a snapshot.
"""
from __future__ import annotations

import copy
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore._store.records import AssetRecord
    from azuremlcore.data.abstract_dataset import AbstractDataset
    from azuremlcore.workspace import Workspace

SNAPSHOT_KIND = "dataset-snapshot"


class DatasetSnapshot:
    """A saved copy of one registered dataset version (see `Dataset.create_snapshot`)."""

    def __init__(self, workspace: "Workspace", record: "AssetRecord") -> None:
        """Use `dataset.create_snapshot(...)` / `dataset.get_snapshot(name)` rather than this constructor."""
        self._workspace, self._record = workspace, record

    @property
    def name(self) -> str:
        """The snapshot's name."""
        return str(self._record.spec["snapshotName"])

    @property
    def dataset_id(self) -> str:
        """The id of the dataset version it copies."""
        return str(self._record.spec["datasetId"])

    @property
    def dataset_name(self) -> str:
        """The registered name of the dataset it copies."""
        return str(self._record.spec["datasetName"])

    @property
    def definition_version(self) -> str:
        """The dataset version it copies."""
        return str(self._record.spec["datasetVersion"])

    @property
    def created_time(self) -> datetime:
        """When the copy was made (UTC)."""
        return datetime.fromtimestamp(self._record.created_time / 1000, timezone.utc)

    @property
    def datastore_path(self) -> tuple[str, str]:
        """(datastore name, folder) where the copy lives."""
        return self._record.spec["datastore"], self._record.spec["path"]

    @property
    def dataset(self) -> "AbstractDataset":
        """The copy as a dataset (TabularDataset over the Parquet file, or FileDataset over the files)."""
        from azuremlcore.data.abstract_dataset import _from_spec

        spec = {"datasetType": self._record.spec["datasetType"], "definition": self._record.spec["definition"]}
        return _from_spec(self._workspace, spec)

    def to_pandas_dataframe(self) -> Any:
        """The copied rows (tabular snapshots only)."""
        return self.dataset.to_pandas_dataframe()

    def get_status(self) -> str:
        """Always 'Completed': the copy is made synchronously by create_snapshot."""
        return "Completed"

    def wait_for_completion(self, show_output: bool = True, status_update_frequency: int = 10) -> None:
        """Returns at once: the copy is made synchronously by create_snapshot."""

    def __repr__(self) -> str:
        return (f"DatasetSnapshot(name={self.name!r}, dataset_name={self.dataset_name!r}, "
                f"definition_version={self.definition_version!r}, datastore_path={self.datastore_path!r})")


def _key(dataset: "AbstractDataset") -> str:
    return f"{dataset.name}:{dataset.version}"


def _require_registered(dataset: "AbstractDataset", what: str) -> "Workspace":
    if dataset._record is None or dataset._workspace is None:
        raise UserErrorException(f"{what} needs a registered dataset: call register(workspace, name) first.")
    return dataset._workspace


def create(dataset: "AbstractDataset", snapshot_name: str, target_datastore: Any = None) -> DatasetSnapshot:
    """Copy the dataset's current data to a datastore and record the snapshot."""
    from azuremlcore.data.dataset_factory import FileDatasetFactory, TabularDatasetFactory
    from azuremlcore.data.azure_storage_datastore import AzureBlobDatastore

    ws = _require_registered(dataset, "create_snapshot")
    if not snapshot_name or "/" in snapshot_name:
        raise UserErrorException("snapshot_name must be a non-empty name without '/'.")
    key = _key(dataset)
    if _find(ws, key, snapshot_name) is not None:
        raise UserErrorException(f"Dataset '{dataset.name}' version {dataset.version} already has a snapshot named "
                                 f"'{snapshot_name}'. Pick another name or delete_snapshot('{snapshot_name}') first.")
    if target_datastore is None:
        store = ws.get_default_datastore()
    elif isinstance(target_datastore, str):
        store = AzureBlobDatastore._by_name(ws, target_datastore)
    else:
        store = target_datastore
    folder = f"snapshots/{dataset.name}/{dataset.version}/{snapshot_name}"
    with tempfile.TemporaryDirectory(prefix="azureml-snapshot-") as tmp:
        if dataset._dataset_type == "tabular":
            df = dataset.to_pandas_dataframe()
            try:
                df.to_parquet(Path(tmp) / "part-00000.parquet", index=False)
            except ImportError as exc:
                raise UserErrorException("Tabular snapshots are stored as Parquet, which needs pyarrow: "
                                         "pip install pyarrow.") from exc
            store.upload(tmp, target_path=folder, overwrite=True, show_progress=False)
            copy_ds: Any = TabularDatasetFactory.from_parquet_files(path=(store, f"{folder}/*.parquet"))
        else:
            dataset.download(target_path=tmp, overwrite=True)
            store.upload(tmp, target_path=folder, overwrite=True, show_progress=False)
            copy_ds = FileDatasetFactory.from_files(path=(store, f"{folder}/**"))
    spec = {"snapshotName": snapshot_name, "datasetId": dataset.id, "datasetName": dataset.name,
            "datasetVersion": dataset.version, "datasetType": dataset._dataset_type, "datastore": store.name,
            "path": folder, "definition": copy.deepcopy(copy_ds._definition)}
    rec = ws._store.put_asset(ws._ws_id, SNAPSHOT_KIND, key, spec)
    return DatasetSnapshot(ws, rec)


def _find(ws: "Workspace", key: str, snapshot_name: str) -> "AssetRecord | None":
    for rec in ws._store.list_assets(ws._ws_id, SNAPSHOT_KIND, key):
        if rec.spec.get("snapshotName") == snapshot_name:
            return rec
    return None


def get(dataset: "AbstractDataset", snapshot_name: str) -> DatasetSnapshot:
    """The snapshot of that name, or a clear error listing the ones there are."""
    ws = _require_registered(dataset, "get_snapshot")
    rec = _find(ws, _key(dataset), snapshot_name)
    if rec is None:
        names = [s.name for s in get_all(dataset)]
        raise UserErrorException(f"Dataset '{dataset.name}' version {dataset.version} has no snapshot named "
                                 f"'{snapshot_name}'. Snapshots: {', '.join(names) or 'none'}.")
    return DatasetSnapshot(ws, rec)


def get_all(dataset: "AbstractDataset") -> list[DatasetSnapshot]:
    """Every snapshot of this dataset version, oldest first."""
    ws = _require_registered(dataset, "get_all_snapshots")
    return [DatasetSnapshot(ws, r) for r in ws._store.list_assets(ws._ws_id, SNAPSHOT_KIND, _key(dataset))]


def delete(dataset: "AbstractDataset", snapshot_name: str) -> None:
    """Remove the snapshot's copied files and its record."""
    from azuremlcore.data.azure_storage_datastore import AzureBlobDatastore

    snap = get(dataset, snapshot_name)
    ws = snap._workspace
    datastore_name, folder = snap.datastore_path
    backend = AzureBlobDatastore._by_name(ws, datastore_name)._backend()
    for name in backend.list(folder + "/"):
        backend.delete(name)
    ws._store.delete_asset(ws._ws_id, SNAPSHOT_KIND, snap._record.name, snap._record.version)
