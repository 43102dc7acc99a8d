"""DatasetConsumptionConfig: how a run gets a dataset (`ds.as_named_input('x').as_mount()`)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore.run import Run


class DatasetConsumptionConfig:
    """A dataset as a named run input: 'direct' (tabular: the script reads `run.input_datasets[name]`),
    'mount' or 'download' (file: the argument becomes a local path)."""

    def __init__(self, name: str | None, dataset: Any, mode: str = "direct", path_on_compute: str | None = None) -> None:
        if mode not in ("direct", "mount", "download"):
            raise UserErrorException(f"mode must be 'direct', 'mount' or 'download', not {mode!r}.")
        self.name = name
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = path_on_compute

    def _with(self, mode: str, path_on_compute: str | None) -> "DatasetConsumptionConfig":
        from azuremlcore.data.file_dataset import FileDataset

        if not isinstance(self.dataset, FileDataset):
            raise UserErrorException(f"as_{mode}() needs a FileDataset; a TabularDataset is read in the script from "
                                     "Run.get_context().input_datasets[name] (pass dataset.as_named_input(name)).")
        return DatasetConsumptionConfig(self.name, self.dataset, mode, path_on_compute)

    def as_mount(self, path_on_compute: str | None = None) -> "DatasetConsumptionConfig":
        """Mount the files in the run (the datastore's folder where possible, else a download)."""
        return self._with("mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> "DatasetConsumptionConfig":
        """Download the files into the run's working folder (or path_on_compute)."""
        return self._with("download", path_on_compute)

    def _resolve_for_run(self, run: "Run | None", working_dir: str) -> str:
        """The local path (file datasets) or dataset id (tabular) the script's argument becomes."""
        from azuremlcore._data.run_inputs import record_input

        name = self.name or f"input_{self.dataset._ensure_id()[:8]}"
        if self.mode == "direct":
            value = self.dataset._ensure_id()
        else:
            from azuremlcore._data.mounting import provide

            target = Path(working_dir) / "azureml_data" / name
            if self.path_on_compute:
                p = Path(self.path_on_compute)
                target = p if p.is_absolute() else Path(working_dir) / p
            ds = self.dataset
            value = provide(ds._ws_handle(), ds._definition, ds._files, self.mode, target,
                            allow_direct=not self.path_on_compute)
        if run is not None:
            reference = {"id": self.dataset._ensure_id(), "name": self.dataset.name, "version": self.dataset.version}
            record_input(run._store, run.id, reference, name, self.mode, value)
        return value

    def __repr__(self) -> str:
        return f"DatasetConsumptionConfig(name={self.name!r}, mode={self.mode!r})"
