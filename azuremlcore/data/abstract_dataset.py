"""What file and tabular datasets share: a JSON definition, registration with versions, lookup."""
from __future__ import annotations

import copy
import uuid
import warnings
from typing import TYPE_CHECKING, Any

from azuremlcore._data import catalog
from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore._data.sources import DataFile
    from azuremlcore._store.handle import WorkspaceHandle
    from azuremlcore._store.records import AssetRecord
    from azuremlcore.data.dataset_consumption_config import DatasetConsumptionConfig
    from azuremlcore.workspace import Workspace

KIND = catalog.KIND
SAVED_KIND = catalog.SAVED_KIND  # unregistered datasets a run used, kept so get_by_id finds them
PROFILE_KIND = "dataset-profile"  # named by a hash of the definition, so a changed definition gets a new profile
ACTIVE, DEPRECATED, ARCHIVED = "active", "deprecated", "archived"
_SAMPLE_STRATEGIES = ("top_n", "simple_random", "stratified")


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
                 tags: dict[str, str] | None = None, create_new_version: bool = False, visible: bool = True,
                 exist_ok: bool = False, update_if_exist: bool = False) -> Any:
        """Register under name: version 1, then a new version per call with `create_new_version=True`.

        Registering the same definition again returns the existing version; a different definition under
        an existing name needs `create_new_version=True` (or the older `update_if_exist=True`), or
        `exist_ok=True` to get the registered one back unchanged. `visible=False` hides it from
        `Dataset.get_all` (it still shows in `Dataset.list`).
        """
        rec, created = catalog.register(workspace._handle, name, self._dataset_type, self._definition,
                                        description=description, tags=tags,
                                        new_version=create_new_version or update_if_exist, exist_ok=exist_ok,
                                        visible=visible)
        if not created:
            return _from_record(workspace, rec)
        return type(self)._create(copy.deepcopy(self._definition), workspace, rec)

    def unregister_all_versions(self) -> None:
        """Remove every registered version of this dataset's name (the data itself is untouched)."""
        if self._record is None or self._workspace is None:
            raise UserErrorException("This dataset is not registered.")
        self._workspace._store.delete_asset(self._workspace._ws_id, KIND, self._record.name)

    def update(self, description: str | None = None, tags: dict[str, str] | None = None,
               name: str | None = None, visible: bool | None = None) -> Any:
        """Change the registered version's description, replace its tags, or show/hide it (`visible`).

        Renaming is not possible: register the dataset under the new name instead.
        """
        rec = self._registered("updated")
        if name is not None and name != rec.name:
            raise UserErrorException(f"Datasets cannot be renamed ('{rec.name}' -> '{name}'): register it under the "
                                     "new name with register(workspace, name).")
        fields: dict[str, Any] = {}
        if description is not None:
            fields["description"] = description
        if tags is not None:
            fields["tags"] = {str(k): str(v) for k, v in tags.items()}
        if visible is not None:
            fields["properties"] = {**rec.properties, "visible": "true" if visible else "false"}
        self._record = self._workspace._store.update_asset(self._workspace._ws_id, KIND, rec.name,  # type: ignore
                                                           rec.version, **fields)
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
            self._id = catalog.save(self._workspace._handle, self._dataset_type, self._definition) \
                if self._workspace is not None else str(uuid.uuid4())
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
        """Registered datasets by name (latest version of each), leaving out ones registered with visible=False."""
        return {n: _from_record(workspace, r) for n, r in _latest_records(workspace).items()
                if r.properties.get("visible", "true") == "true"}

    # ------------------------------------------------------------------ runs
    def as_named_input(self, name: str) -> "DatasetConsumptionConfig":
        """This dataset as the run input `name` (see `run.input_datasets[name]` inside the script)."""
        from azuremlcore.data.dataset_consumption_config import DatasetConsumptionConfig

        return DatasetConsumptionConfig(name, self)

    def _ws_handle(self) -> "WorkspaceHandle | None":
        """The workspace as the data machinery takes it (None for a dataset of local files or URLs only)."""
        return self._workspace._handle if self._workspace is not None else None

    def _files(self) -> list["DataFile"]:
        from azuremlcore._data.sources import resolve

        self._check_access()
        return resolve(self._ws_handle(), self._definition["sources"])

    # ------------------------------------------------------------------ lifecycle (state, visibility)
    def _registered(self, what: str) -> "AssetRecord":
        if self._record is None or self._workspace is None:
            raise UserErrorException(f"Only registered datasets can be {what}: call register(workspace, name) first.")
        return self._record

    def _fresh_record(self) -> "AssetRecord | None":
        """The registered record as stored now (another object may have archived or updated it)."""
        if self._record is None or self._workspace is None:
            return None
        rec = self._workspace._store.get_asset(self._workspace._ws_id, KIND, self._record.name, self._record.version)
        if rec is not None:
            self._record = rec
        return self._record

    def _check_access(self) -> None:
        """Archived datasets refuse to give data; deprecated ones give it with a warning."""
        rec = self._fresh_record()
        if rec is None:
            return
        state = rec.properties.get("state", ACTIVE)
        if state == ARCHIVED:
            raise UserErrorException(f"Dataset '{rec.name}' version {rec.version} is archived, so its data cannot be "
                                     "read. Call reactivate() on it first.")
        if state == DEPRECATED:
            by = rec.properties.get("deprecatedBy")
            warnings.warn(f"Dataset '{rec.name}' version {rec.version} is deprecated" +
                          (f"; use dataset id '{by}' instead." if by else "."), UserWarning, stacklevel=3)

    @property
    def state(self) -> str | None:
        """'active', 'deprecated' or 'archived' for a registered dataset version; None when unregistered."""
        rec = self._fresh_record()
        return rec.properties.get("state", ACTIVE) if rec else None

    @property
    def is_visible(self) -> bool:
        """Whether Dataset.get_all (and so workspace.datasets) lists it; set with register/update(visible=)."""
        rec = self._fresh_record()
        return rec.properties.get("visible", "true") == "true" if rec else True

    def _set_state(self, state: str, allowed_from: tuple[str, ...], **extra: str) -> None:
        rec = self._fresh_record() or self._registered(f"{state}")
        current = rec.properties.get("state", ACTIVE)
        if current not in allowed_from:
            raise UserErrorException(f"Dataset '{rec.name}' version {rec.version} is {current}; only "
                                     f"{' or '.join(allowed_from)} datasets can become {state}.")
        props = {k: v for k, v in rec.properties.items() if k != "deprecatedBy"}
        props.update(state=state, **extra)
        self._record = self._workspace._store.update_asset(self._workspace._ws_id, KIND, rec.name,  # type: ignore
                                                           rec.version, properties=props)

    def archive(self) -> None:
        """Archive this active or deprecated version: reading its data then fails until reactivate()."""
        self._set_state(ARCHIVED, (ACTIVE, DEPRECATED))

    def deprecate(self, deprecate_by_dataset_id: str) -> None:
        """Mark this active version deprecated in favour of another dataset: it still reads, with a warning."""
        if self._workspace is None:
            raise UserErrorException("Only registered datasets can be deprecated: call register(workspace, name).")
        replacement = AbstractDataset.get_by_id(self._workspace, deprecate_by_dataset_id)
        if replacement.id == self.id:
            raise UserErrorException("A dataset cannot be deprecated by itself: pass the id of its replacement.")
        self._set_state(DEPRECATED, (ACTIVE,), deprecatedBy=str(deprecate_by_dataset_id))

    def reactivate(self) -> None:
        """Make an archived or deprecated version active again."""
        self._set_state(ACTIVE, (ARCHIVED, DEPRECATED))

    # ------------------------------------------------------------------ data access shared by both kinds
    def to_pandas_dataframe(self) -> Any:
        """Rows as a pandas DataFrame (tabular datasets; a FileDataset has no rows: download() or mount() it)."""
        raise UserErrorException(f"A {type(self).__name__} has no rows: use download() or mount() to get its files, "
                                 "or create a TabularDataset with Dataset.Tabular.from_delimited_files(...).")

    def to_spark_dataframe(self) -> Any:
        """Rows as a Spark DataFrame (tabular datasets, with pyspark installed)."""
        raise UserErrorException(f"A {type(self).__name__} has no rows to put in a Spark DataFrame: use download() "
                                 "or mount() to get its files.")

    def head(self, count: int) -> Any:
        """The first `count` rows as a DataFrame (tabular datasets only)."""
        return self.to_pandas_dataframe()

    def sample(self, sample_strategy: str, arguments: dict[str, Any]) -> Any:
        """A new dataset sampled from this one: 'top_n' ({'n'}), 'simple_random' ({'probability', 'seed'}),
        or 'stratified' ({'columns', 'fractions', 'seed'}; tabular only, fractions per stratum value)."""
        args = dict(arguments or {})
        if sample_strategy == "top_n":
            if "n" not in args:
                raise UserErrorException("sample('top_n', arguments) needs arguments={'n': number_of_rows}.")
            return self.take(int(args["n"]))  # type: ignore[attr-defined]
        if sample_strategy == "simple_random":
            p = args.get("probability")
            if p is None or not 0 <= float(p) <= 1:
                raise UserErrorException("sample('simple_random', arguments) needs arguments={'probability': p} "
                                         "with 0 <= p <= 1 (and optionally 'seed').")
            return self.take_sample(float(p), seed=args.get("seed"))  # type: ignore[attr-defined]
        if sample_strategy == "stratified":
            if self._dataset_type != "tabular":
                raise UserErrorException("A stratified sample needs rows: use it on a TabularDataset.")
            from azuremlcore._data.transforms import _key

            columns = args.get("columns")
            fractions = args.get("fractions")
            if not columns or not isinstance(fractions, dict):
                raise UserErrorException("sample('stratified', arguments) needs arguments={'columns': [...], "
                                         "'fractions': {stratum_value: fraction}} (and optionally 'seed').")
            cols = [columns] if isinstance(columns, str) else list(columns)
            return self._derive({"op": "stratified", "columns": cols, "seed": args.get("seed"),
                                 "fractions": {_key(k): float(v) for k, v in fractions.items()}})
        raise UserErrorException(f"Unknown sample_strategy {sample_strategy!r}: use one of "
                                 f"{', '.join(_SAMPLE_STRATEGIES)}.")

    def diff(self, rhs_dataset: Any, compute_target: Any = None, columns: list[str] | None = None) -> Any:
        """Not available: compare profiles with compare_profiles(), or rows with pandas."""
        raise UserErrorException("diff is not supported. Use compare_profiles(rhs_dataset) for column statistics, or "
                                 "compare rows with to_pandas_dataframe() and pandas.DataFrame.compare.")

    # ------------------------------------------------------------------ definitions (= registered versions)
    @property
    def definition_version(self) -> str | None:
        """The registered version this object is, as text (None when unregistered)."""
        return str(self._record.version) if self._record else None

    @property
    def definition(self) -> Any:
        """This dataset's definition: the dataset object pinned to its registered version."""
        if self._record is None or self._workspace is None:
            return type(self)._create(copy.deepcopy(self._definition), self._workspace)
        return self.get_definition(self.definition_version)

    def get_definition(self, version_id: str | int | None = None) -> Any:
        """The dataset as registered in version `version_id` (the latest when None)."""
        rec = self._registered("looked up by definition")
        return AbstractDataset.get_by_name(self._workspace, rec.name,  # type: ignore[arg-type]
                                           "latest" if version_id is None else version_id)

    def get_definitions(self) -> dict[str, Any]:
        """Every registered version of this dataset's name, by version text ('1', '2', ...)."""
        rec = self._registered("looked up by definition")
        ws = self._workspace
        return {str(r.version): _from_record(ws, r)  # type: ignore[arg-type]
                for r in ws._store.list_assets(ws._ws_id, KIND, rec.name)}  # type: ignore[union-attr]

    def update_definition(self, definition: Any, definition_update_message: str) -> Any:
        """Register `definition` (a dataset of the same kind) as a new version; returns that version."""
        rec = self._registered("updated")
        if not isinstance(definition, AbstractDataset) or definition._dataset_type != self._dataset_type:
            raise UserErrorException(f"update_definition needs a {type(self).__name__} (for example one made with "
                                     "Dataset.Tabular.* / Dataset.File.* or derived with take/keep_columns).")
        latest = self._workspace._store.get_asset(self._workspace._ws_id, KIND, rec.name)  # type: ignore
        if latest is not None and latest.spec.get("definition") == definition._definition:
            return _from_record(self._workspace, latest)  # type: ignore[arg-type]
        new = definition.register(self._workspace, rec.name, description=rec.description, tags=dict(rec.tags),
                                  create_new_version=True)
        props = {**new._record.properties, "definitionUpdateMessage": str(definition_update_message or "")}
        new._record = self._workspace._store.update_asset(self._workspace._ws_id, KIND, rec.name,  # type: ignore
                                                          new.version, properties=props)
        return new

    # ------------------------------------------------------------------ snapshots
    def create_snapshot(self, snapshot_name: str, compute_target: Any = None, create_data_snapshot: bool = False,
                        target_datastore: Any = None) -> Any:
        """Save a copy of this registered version's data now (see azuremlcore.data.dataset_snapshot).

        The copy is always made (create_data_snapshot is accepted for compatibility); compute_target is ignored.
        """
        from azuremlcore.data import dataset_snapshot

        return dataset_snapshot.create(self, snapshot_name, target_datastore)

    def get_snapshot(self, snapshot_name: str) -> Any:
        """The snapshot of this version with that name."""
        from azuremlcore.data import dataset_snapshot

        return dataset_snapshot.get(self, snapshot_name)

    def get_all_snapshots(self) -> list[Any]:
        """Every snapshot of this version, oldest first."""
        from azuremlcore.data import dataset_snapshot

        return dataset_snapshot.get_all(self)

    def delete_snapshot(self, snapshot_name: str) -> None:
        """Delete the snapshot's copied data and its record."""
        from azuremlcore.data import dataset_snapshot

        dataset_snapshot.delete(self, snapshot_name)

    # ------------------------------------------------------------------ profiles
    def _profile_key(self) -> str:
        import hashlib
        import json

        return hashlib.sha256(json.dumps(self._definition, sort_keys=True).encode()).hexdigest()[:40]

    def generate_profile(self, compute_target: Any = None, workspace: "Workspace | None" = None,
                         arguments: dict[str, Any] | None = None) -> "DatasetProfile":
        """Compute column statistics now (reads all rows) and keep them for get_profile(); returns the profile."""
        from azuremlcore._data import profiles

        if self._dataset_type != "tabular":
            raise UserErrorException("Profiles describe columns: use them on a TabularDataset.")
        data = profiles.compute(self.to_pandas_dataframe())
        ws = workspace or self._workspace
        rec = None
        if ws is not None:
            rec = ws._store.put_asset(ws._ws_id, PROFILE_KIND, self._profile_key(), data)
        return DatasetProfile(data, self.id, rec.created_time if rec else None)

    def get_profile(self, arguments: dict[str, Any] | None = None, generate_if_not_exist: bool = True,
                    workspace: "Workspace | None" = None, compute_target: Any = None) -> "DatasetProfile":
        """The statistics computed last for this exact definition (computed now if none and generate_if_not_exist)."""
        ws = workspace or self._workspace
        rec = ws._store.get_asset(ws._ws_id, PROFILE_KIND, self._profile_key()) if ws is not None else None
        if rec is not None:
            return DatasetProfile(rec.spec, self.id, rec.created_time)
        if not generate_if_not_exist:
            raise UserErrorException("This dataset has no profile yet: call generate_profile() first, or pass "
                                     "generate_if_not_exist=True.")
        return self.generate_profile(workspace=ws)

    def compare_profiles(self, rhs_dataset: Any, profile_arguments: dict[str, Any] | None = None,
                         include_columns: list[str] | None = None, exclude_columns: list[str] | None = None,
                         histogram_compare_method: Any = None) -> dict[str, Any]:
        """Differences between this dataset's profile and rhs_dataset's: row counts, columns, per-column stats."""
        from azuremlcore._data import profiles

        if not isinstance(rhs_dataset, AbstractDataset):
            raise UserErrorException("compare_profiles needs another TabularDataset as rhs_dataset.")
        return profiles.compare(self.get_profile().data, rhs_dataset.get_profile().data,
                                include_columns, exclude_columns)

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


class DatasetProfile:
    """Column statistics of a tabular dataset: `profile['age']['mean']`, `profile.row_count`, `profile.columns`.

    Per column: type, count (non-missing), missing, unique, and min/max (mean/std for numbers).
    """

    def __init__(self, data: dict[str, Any], dataset_id: str | None, created_time: int | None) -> None:
        """Made by generate_profile/get_profile."""
        self.data, self.dataset_id, self._created = data, dataset_id, created_time

    @property
    def row_count(self) -> int:
        """Number of rows profiled."""
        return int(self.data["row_count"])

    @property
    def columns(self) -> dict[str, dict[str, Any]]:
        """Statistics by column name."""
        return self.data["columns"]

    def __getitem__(self, column: str) -> dict[str, Any]:
        return self.columns[column]

    def __iter__(self) -> Any:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def get_result(self) -> "DatasetProfile":
        """This profile (profiles are computed synchronously here)."""
        return self

    def wait_for_completion(self, show_output: bool = True, status_update_frequency: int = 10) -> None:
        """Returns at once: the profile is already computed."""

    def __repr__(self) -> str:
        return f"DatasetProfile(row_count={self.row_count}, columns={list(self.columns)})"


def _latest_records(workspace: "Workspace") -> dict[str, "AssetRecord"]:
    latest: dict[str, Any] = {}
    for rec in workspace._store.list_assets(workspace._ws_id, KIND):
        latest[rec.name] = rec
    return latest


def _from_spec(workspace: "Workspace", spec: dict[str, Any], record: "AssetRecord | None" = None) -> Any:
    from azuremlcore.data.file_dataset import FileDataset
    from azuremlcore.data.tabular_dataset import TabularDataset

    cls = TabularDataset if spec.get("datasetType") == "tabular" else FileDataset
    return cls._create(copy.deepcopy(spec["definition"]), workspace, record, spec.get("id"))


def _from_record(workspace: "Workspace", rec: "AssetRecord") -> Any:
    return _from_spec(workspace, rec.spec, rec)
