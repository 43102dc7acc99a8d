"""OutputFileDatasetConfig: a folder a run writes into, stored on a datastore and promoted to a dataset.

Pass it in ``ScriptRunConfig(arguments=[..., output])``: the script gets a local folder path (an
empty folder in the run's working directory, or `source` there); when the script ends the folder's
files are uploaded to `destination` (default: the workspace's default datastore, under
``dataset/{run-id}/{output-name}``), the run's ``get_details()['outputDatasets']`` lists the
resulting dataset, and ``register_on_complete(name)`` registers it when the run completes.
"""
from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore.data.dataset_type_definitions import PromoteHeadersBehavior, header_flag
from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore.data.dataset_consumption_config import DatasetConsumptionConfig
    from azuremlcore.run import Run

DEFAULT_DESTINATION = "dataset/{run-id}/{output-name}"
# Folder of the run's working directory where outputs without `source` are written.
LOCAL_ROOT = "azureml_outputs"
RUN_DETAILS_KEY = "_outputDatasetConfigs"
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class OutputDatasetConfig:
    """Base of run outputs that become datasets: a name, a mode, optional registration."""

    def __init__(self, name: str | None = None) -> None:
        if name is not None and not _NAME.match(str(name)):
            raise UserErrorException(f"Invalid output name {name!r}: use letters, digits and '_' only.")
        self._name = name or f"output_{uuid.uuid4().hex[:8]}"
        self._registration: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        """The output's name within the run (generated when not given)."""
        return self._name

    def register_on_complete(self, name: str, description: str | None = None,
                             tags: dict[str, str] | None = None) -> "OutputDatasetConfig":
        """Register the output as a dataset `name` (a new version each time) when the run completes."""
        if not name or not isinstance(name, str):
            raise UserErrorException("register_on_complete needs a dataset name.")
        self._registration = {"name": name, "description": description,
                              "tags": {str(k): str(v) for k, v in (tags or {}).items()}}
        return self


class OutputFileDatasetConfig(OutputDatasetConfig):
    """A run output folder, uploaded to `destination` when the run ends and promoted to a FileDataset.

    `destination` is ``(datastore, path)``; the path may hold ``{run-id}`` and ``{output-name}``.
    `source` is where in the run's working folder the script writes (default: a fresh folder);
    the script's argument is that folder's local path. `partition_format` is kept for reference.
    """

    def __init__(self, name: str | None = None, destination: tuple | None = None, source: str | None = None,
                 partition_format: str | None = None) -> None:
        super().__init__(name)
        if destination is not None and not (isinstance(destination, tuple) and len(destination) == 2):
            raise UserErrorException("destination must be a tuple (datastore, 'path/on/datastore'), e.g. "
                                     "(ws.get_default_datastore(), 'outputs/{run-id}').")
        self.destination = destination
        self.source = source
        self.partition_format = partition_format
        self.mode = "mount"
        self._overwrite = True
        self._source_globs: list[str] | None = None
        self._tabular: dict[str, Any] | None = None

    def as_mount(self, disable_metadata_cache: bool = False) -> "OutputFileDatasetConfig":
        """Write the output as files that land on the destination (here: copied there when the script ends)."""
        self.mode, self._overwrite = "mount", True
        return self

    def as_upload(self, overwrite: bool = False, source_globs: list[str] | None = None) -> "OutputFileDatasetConfig":
        """Upload the folder when the script ends; files already at the destination are kept unless `overwrite`.

        `source_globs` (e.g. ``['*.csv']``) limits which files are uploaded.
        """
        self.mode, self._overwrite = "upload", bool(overwrite)
        self._source_globs = list(source_globs) if source_globs else None
        return self

    def read_delimited_files(self, include_path: bool = False, separator: str = ",",
                             header: Any = PromoteHeadersBehavior.ALL_FILES_HAVE_SAME_HEADERS,
                             partition_format: str | None = None, path_glob: str | None = None,
                             set_column_types: dict | None = None) -> "OutputTabularDatasetConfig":
        """Promote the output to a TabularDataset of its delimited files (`path_glob` selects them)."""
        return OutputTabularDatasetConfig(self, {"kind": "delimited", "include_path": include_path,
                                                 "separator": separator, "header": header_flag(header),
                                                 "path_glob": path_glob})

    def read_parquet_files(self, include_path: bool = False, partition_format: str | None = None,
                           path_glob: str | None = None, set_column_types: dict | None = None
                           ) -> "OutputTabularDatasetConfig":
        """Promote the output to a TabularDataset of its Parquet files (`path_glob` selects them)."""
        return OutputTabularDatasetConfig(self, {"kind": "parquet", "include_path": include_path,
                                                 "path_glob": path_glob})

    def as_input(self, name: str | None = None) -> "DatasetConsumptionConfig":
        """The output as the input of a later run: needs a destination without ``{run-id}`` (outside pipelines)."""
        from azuremlcore.data.dataset_consumption_config import DatasetConsumptionConfig
        from azuremlcore.data.dataset_factory import FileDatasetFactory

        if self.destination is None or "{run-id}" in str(self.destination[1]):
            raise UserErrorException(
                "as_input() needs the output's location before the run exists, which only pipelines provide. "
                "Give the output a fixed destination, e.g. OutputFileDatasetConfig(destination=(datastore, "
                "'prepared/{output-name}')), or read the run's output dataset from "
                "run.get_details()['outputDatasets'] after it completes.")
        folder = str(self.destination[1]).replace("{output-name}", self.name).strip("/")
        dataset = FileDatasetFactory.from_files((self.destination[0], f"{folder}/**"), validate=False)
        return DatasetConsumptionConfig(name or self.name, dataset, mode="mount")

    # ------------------------------------------------------------------ inside a run
    def _spec(self) -> dict[str, Any]:
        datastore, path = self.destination if self.destination is not None else (None, DEFAULT_DESTINATION)
        return {"name": self.name, "mode": self.mode, "overwrite": self._overwrite, "sourceGlobs": self._source_globs,
                "datastore": getattr(datastore, "name", datastore), "path": str(path or DEFAULT_DESTINATION),
                "register": self._registration, "tabular": self._tabular}

    def _resolve_for_run(self, run: "Run | None", working_dir: str) -> str:
        """Create the local folder the script writes to, note the output in the run, return the folder's path."""
        if self.source:
            local = Path(self.source)
            local = local if local.is_absolute() else Path(working_dir) / local
        else:
            local = Path(working_dir) / LOCAL_ROOT / self.name
        local.mkdir(parents=True, exist_ok=True)
        if run is not None:
            spec = dict(self._spec(), localPath=str(local))
            current = [s for s in run._store.get_run(run.id).details.get(RUN_DETAILS_KEY, []) if s["name"] != self.name]
            run._store.update_run(run.id, details={RUN_DETAILS_KEY: current + [spec]})
        return str(local)

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.name}"

    def __repr__(self) -> str:
        dest = None if self.destination is None else (getattr(self.destination[0], "name", None), self.destination[1])
        return f"OutputFileDatasetConfig(name={self.name!r}, destination={dest!r}, mode={self.mode!r})"


class OutputTabularDatasetConfig(OutputDatasetConfig):
    """An OutputFileDatasetConfig promoted to a TabularDataset (made by `read_delimited_files`/`read_parquet_files`)."""

    def __init__(self, output_file_dataset_config: OutputFileDatasetConfig | None = None,
                 read: dict[str, Any] | None = None) -> None:
        if output_file_dataset_config is None:
            raise UserErrorException("Create it with OutputFileDatasetConfig(...).read_delimited_files() "
                                     "or .read_parquet_files().")
        self._files = output_file_dataset_config
        self._files._tabular = dict(read or {})
        self._name = output_file_dataset_config.name

    @property
    def name(self) -> str:
        """The output's name within the run."""
        return self._files.name

    def register_on_complete(self, name: str, description: str | None = None,
                             tags: dict[str, str] | None = None) -> "OutputTabularDatasetConfig":
        """Register the TabularDataset as `name` (a new version each time) when the run completes."""
        self._files.register_on_complete(name, description, tags)
        return self

    def as_mount(self, disable_metadata_cache: bool = False) -> "OutputTabularDatasetConfig":
        """See OutputFileDatasetConfig.as_mount."""
        self._files.as_mount(disable_metadata_cache)
        return self

    def as_upload(self, overwrite: bool = False, source_globs: list[str] | None = None) -> "OutputTabularDatasetConfig":
        """See OutputFileDatasetConfig.as_upload."""
        self._files.as_upload(overwrite, source_globs)
        return self

    def _resolve_for_run(self, run: "Run | None", working_dir: str) -> str:
        return self._files._resolve_for_run(run, working_dir)

    def __repr__(self) -> str:
        return f"OutputTabularDatasetConfig(name={self.name!r}, read={self._files._tabular!r})"


__all__ = ["OutputDatasetConfig", "OutputFileDatasetConfig", "OutputTabularDatasetConfig"]
