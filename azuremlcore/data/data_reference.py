"""DataReference: a folder or file of a datastore, handed to a run as a mount or a download."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore.data.azure_storage_datastore import AbstractAzureStorageDatastore
    from azuremlcore.run import Run


class DataReference:
    """A reference to `path_on_datastore` of a datastore; in `ScriptRunConfig(arguments=[...])` it becomes a
    local path inside the run: the datastore's own folder for 'mount' on an embedded workspace (treat it as
    read-only), otherwise a copy in the run's working folder."""

    def __init__(self, datastore: "AbstractAzureStorageDatastore", data_reference_name: str | None = None,
                 path_on_datastore: str | None = None, mode: str = "mount", path_on_compute: str | None = None,
                 overwrite: bool = False) -> None:
        if mode not in ("mount", "download", "upload"):
            raise UserErrorException(f"DataReference mode must be 'mount', 'download' or 'upload', not {mode!r}.")
        self.datastore = datastore
        self.data_reference_name = data_reference_name or f"{datastore.name}_{uuid.uuid4().hex[:8]}"
        self.path_on_datastore = path_on_datastore
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite

    def _copy(self, **changes: Any) -> "DataReference":
        fields = {"data_reference_name": self.data_reference_name, "path_on_datastore": self.path_on_datastore,
                  "mode": self.mode, "path_on_compute": self.path_on_compute, "overwrite": self.overwrite}
        fields.update(changes)
        return DataReference(self.datastore, **fields)

    def as_mount(self) -> "DataReference":
        """The same reference, mounted in the run."""
        return self._copy(mode="mount")

    def as_download(self, path_on_compute: str | None = None, overwrite: bool = False) -> "DataReference":
        """The same reference, downloaded into the run's working folder (or `path_on_compute`)."""
        return self._copy(mode="download", path_on_compute=path_on_compute, overwrite=overwrite)

    def as_upload(self, path_on_compute: str | None = None, overwrite: bool = False) -> "DataReference":
        """Not available: uploading a run's folder to a datastore afterwards is not supported; write to
        ./outputs (stored with the run) or call datastore.upload(...) at the end of the script."""
        raise UserErrorException("DataReference.as_upload is not supported: write results to ./outputs (stored "
                                 "with the run) or upload them with datastore.upload(...) from the script.")

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> "DataReference":
        """A reference to a path below this one."""
        from azuremlcore._data.transfers import join as _join

        return self._copy(path_on_datastore=_join(self.path_on_datastore, path),
                          data_reference_name=data_reference_name or self.data_reference_name)

    def _resolve_for_run(self, run: "Run | None", working_dir: str) -> str:
        """The local path the run's script gets for this reference."""
        from azuremlcore._data import globbing

        prefix = globbing.normalise(self.path_on_datastore or "").rstrip("/")
        backend = self.datastore._backend()
        folder = backend.local_folder()
        if self.mode == "mount" and folder is not None and not self.path_on_compute:
            return str(folder / prefix) if prefix else str(folder)
        base = Path(self.path_on_compute) if self.path_on_compute else Path("azureml_data") / self.data_reference_name
        root = base if base.is_absolute() else Path(working_dir) / base
        names = [n for n in backend.list(prefix) if not prefix or n == prefix or n.startswith(prefix + "/")]
        for n in names:
            dest = root / n
            if self.overwrite or not dest.exists():
                backend.get_file(n, dest)
        target = root / prefix if prefix else root
        if not names:
            target.mkdir(parents=True, exist_ok=True)
        return str(target)

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.data_reference_name}"

    def __repr__(self) -> str:
        return (f"$AZUREML_DATAREFERENCE_{self.data_reference_name} -> {self.datastore.name}:"
                f"{self.path_on_datastore or '/'} ({self.mode})")
