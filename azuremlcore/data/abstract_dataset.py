"""What file and tabular datasets share: a JSON definition, registration with versions, lookup."""
from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING, Any

from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore._data.sources import DataFile
    from azuremlcore._store.records import AssetRecord
    from azuremlcore.data.dataset_consumption_config import DatasetConsumptionConfig
    from azuremlcore.workspace import Workspace

KIND = "dataset"
SAVED_KIND = "dataset-saved"  # unregistered datasets a run used, kept so get_by_id finds them


class AbstractDataset:
    """A dataset: a lazily evaluated definition (sources, format, transformations) bound to a workspace."""

    _dataset_type = "abstract"

    def __init__(self) -> None:
        """Create datasets with `Dataset.Tabular.*` / `Dataset.File.*`, or load them with `Dataset.get_by_name`."""
        raise UserErrorException("Create datasets with Dataset.Tabular.from_delimited_files(...) or "
                                 "Dataset.File.from_files(...); load registered ones with Dataset.get_by_name(ws, name).")

    @classmethod
    def _create(cls, definition: dict[str, Any], workspace: "Workspace | None", record: "AssetRecord | None" = None,
                dataset_id: str | None = None) -> Any:
        ds = cls.__new__(cls)
        ds._definition = definition
        ds._workspace = workspace
        ds._record = record
        ds._id = dataset_id or (record.spec.get("id") if record else None)
        return ds

    def _derive(self, op: dict[str, Any], cls: type | None = None) -> Any:
        definition = copy.deepcopy(self._definition)
        definition["transforms"] = definition.get("transforms", []) + [op]
        if cls is not None:
            definition["type"] = cls._dataset_type
        return (cls or type(self))._create(definition, self._workspace)

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str | None:
        """The registered name (None when unregistered)."""
        return self._record.name if self._record else None

    @property
    def version(self) -> int | None:
        """The registered version (None when unregistered)."""
        return self._record.version if self._record else None

    @property
    def id(self) -> str | None:
        """The dataset id (assigned when registered or used by a run)."""
        return self._id

    @property
    def description(self) -> str | None:
        """The registered description."""
        return self._record.description if self._record else None

    @property
    def tags(self) -> dict[str, str]:
        """The registered tags."""
        return dict(self._record.tags) if self._record else {}

    @property
    def workspace(self) -> "Workspace | None":
        """The workspace its datastores belong to."""
        return self._workspace

    @property
    def data_changed_time(self) -> Any:
        """When it was registered (None when unregistered)."""
        from datetime import datetime, timezone

        return datetime.fromtimestamp(self._record.created_time / 1000, timezone.utc) if self._record else None

    # ------------------------------------------------------------------ registration
    def register(self, workspace: "Workspace", name: str, description: str | None = None,
                 tags: dict[str, str] | None = None, create_new_version: bool = False) -> Any:
        """Register under name: version 1, then a new version per call with `create_new_version=True`.

        Registering the same definition again returns the existing version; a different definition under
        an existing name needs `create_new_version=True`.
        """
        if not name or not isinstance(name, str):
            raise UserErrorException("register needs a dataset name.")
        store, ws_id = workspace._store, workspace._ws_id
        latest = store.get_asset(ws_id, KIND, name)
        spec_def = self._definition
        if latest is not None and not create_new_version:
            if latest.spec.get("definition") == spec_def:
                return type(self)._create(copy.deepcopy(spec_def), workspace, latest)
            raise UserErrorException(
                f"There is already a dataset registered under name '{name}' (version {latest.version}) with another "
                "definition. Pass create_new_version=True to register this one as a new version.")
        spec = {"id": str(uuid.uuid4()), "datasetType": self._dataset_type, "definition": spec_def}
        rec = store.put_asset(ws_id, KIND, name, spec, description=description,
                              tags={str(k): str(v) for k, v in (tags or {}).items()})
        return type(self)._create(copy.deepcopy(spec_def), workspace, rec)

    def unregister_all_versions(self) -> None:
        """Remove every registered version of this dataset's name (the data itself is untouched)."""
        if self._record is None or self._workspace is None:
            raise UserErrorException("This dataset is not registered.")
        self._workspace._store.delete_asset(self._workspace._ws_id, KIND, self._record.name)

    def update(self, description: str | None = None, tags: dict[str, str] | None = None) -> Any:
        """Change the registered version's description or replace its tags."""
        if self._record is None or self._workspace is None:
            raise UserErrorException("Only registered datasets can be updated: register it first.")
        fields: dict[str, Any] = {}
        if description is not None:
            fields["description"] = description
        if tags is not None:
            fields["tags"] = {str(k): str(v) for k, v in tags.items()}
        self._record = self._workspace._store.update_asset(self._workspace._ws_id, KIND, self._record.name,
                                                           self._record.version, **fields)
        return self

    def add_tags(self, tags: dict[str, str]) -> Any:
        """Add or change tags of the registered version."""
        return self.update(tags={**self.tags, **tags})

    def remove_tags(self, tags: list[str]) -> Any:
        """Remove tags of the registered version."""
        return self.update(tags={k: v for k, v in self.tags.items() if k not in set(tags)})

    def _ensure_id(self) -> str:
        """Save an unregistered dataset so runs can refer to it by id."""
        if self._id is None:
            self._id = str(uuid.uuid4())
            if self._workspace is not None:
                self._workspace._store.put_asset(self._workspace._ws_id, SAVED_KIND, self._id,
                                                 {"id": self._id, "datasetType": self._dataset_type,
                                                  "definition": self._definition})
        return self._id

    # ------------------------------------------------------------------ lookup
    @staticmethod
    def get_by_name(workspace: "Workspace", name: str, version: int | str = "latest", **kwargs: Any) -> Any:
        """The registered dataset of that name ('latest' version, or a given one)."""
        v = None if version in (None, "latest") else int(version)
        rec = workspace._store.get_asset(workspace._ws_id, KIND, name, v)
        if rec is None:
            names = sorted({r.name for r in workspace._store.list_assets(workspace._ws_id, KIND)})
            what = f"'{name}'" + (f" version {v}" if v is not None else "")
            raise UserErrorException(f"Cannot find dataset {what} in workspace '{workspace.name}'. Registered: "
                                     f"{', '.join(names) or 'none'}.")
        return _from_record(workspace, rec)

    @staticmethod
    def get_by_id(workspace: "Workspace", id: str, **kwargs: Any) -> Any:
        """The dataset with that id (registered, or used by a run)."""
        for kind in (KIND, SAVED_KIND):
            for rec in workspace._store.list_assets(workspace._ws_id, kind):
                if rec.spec.get("id") == id:
                    return _from_record(workspace, rec) if kind == KIND else _from_spec(workspace, rec.spec)
        raise UserErrorException(f"Cannot find a dataset with id '{id}' in workspace '{workspace.name}'.")

    @staticmethod
    def get_all(workspace: "Workspace") -> dict[str, Any]:
        """Registered datasets by name (latest version of each)."""
        latest: dict[str, Any] = {}
        for rec in workspace._store.list_assets(workspace._ws_id, KIND):
            latest[rec.name] = rec
        return {n: _from_record(workspace, r) for n, r in latest.items()}

    # ------------------------------------------------------------------ runs
    def as_named_input(self, name: str) -> "DatasetConsumptionConfig":
        """This dataset as the run input `name` (see `run.input_datasets[name]` inside the script)."""
        from azuremlcore.data.dataset_consumption_config import DatasetConsumptionConfig

        return DatasetConsumptionConfig(name, self)

    def _files(self) -> list["DataFile"]:
        from azuremlcore._data.sources import resolve

        return resolve(self._workspace, self._definition["sources"])

    def __repr__(self) -> str:
        import json

        head = {"source": [s.get("path") and f"('{s['datastore']}', '{s['path']}')" or s.get("local") or s.get("url")
                           for s in self._definition["sources"]],
                "definition": [t["op"] for t in self._definition.get("transforms", [])]}
        if self._record:
            head["registration"] = {"id": self._id, "name": self.name, "version": self.version,
                                    "description": self.description, "tags": self.tags}
        return f"{type(self).__name__}\n{json.dumps(head, indent=2)}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AbstractDataset) and other._definition == self._definition

    def __hash__(self) -> int:
        return hash(repr(self._definition))


def _from_spec(workspace: "Workspace", spec: dict[str, Any], record: "AssetRecord | None" = None) -> Any:
    from azuremlcore.data.file_dataset import FileDataset
    from azuremlcore.data.tabular_dataset import TabularDataset

    cls = TabularDataset if spec.get("datasetType") == "tabular" else FileDataset
    return cls._create(copy.deepcopy(spec["definition"]), workspace, record, spec.get("id"))


def _from_record(workspace: "Workspace", rec: "AssetRecord") -> Any:
    return _from_spec(workspace, rec.spec, rec)
