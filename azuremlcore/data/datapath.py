"""DataPath: a path on a datastore (``azureml.data.datapath``), and how a run sees it (DataPathComputeBinding).

A DataPath works wherever a ``(datastore, path)`` tuple does (``Dataset.File.from_files(path=DataPath(...))``)
and, in ``ScriptRunConfig(arguments=[...])``, becomes a local path as ``datastore.path(...).as_mount()`` does.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore.data.azure_storage_datastore import AbstractAzureStorageDatastore
    from azuremlcore.data.data_reference import DataReference
    from azuremlcore.run import Run


class DataPathComputeBinding:
    """How a DataPath reaches a run: 'mount' or 'download', optionally at `path_on_compute`."""

    def __init__(self, mode: str = "mount", path_on_compute: str | None = None, overwrite: bool = False) -> None:
        if mode not in ("mount", "download"):
            raise UserErrorException(f"DataPathComputeBinding mode must be 'mount' or 'download', not {mode!r}.")
        self._mode = mode
        self._path_on_compute = path_on_compute
        self._overwrite = overwrite

    def create_data_reference(self, data_reference_name: str, datapath: "DataPath") -> "DataReference":
        """A DataReference to `datapath` with this binding."""
        return datapath.create_data_reference(data_reference_name, self)

    def __repr__(self) -> str:
        return f"DataPathComputeBinding(mode={self._mode!r}, path_on_compute={self._path_on_compute!r})"


class DataPath:
    """`path_on_datastore` of `datastore` (the datastore's root when None)."""

    def __init__(self, datastore: "AbstractAzureStorageDatastore | None" = None, path_on_datastore: str | None = None,
                 name: str | None = None) -> None:
        if datastore is None:
            raise UserErrorException("DataPath needs a datastore, e.g. DataPath(ws.get_default_datastore(), 'data/').")
        self._datastore = datastore
        self._path_on_datastore = path_on_datastore
        self._name = name

    @property
    def datastore_name(self) -> str:
        """The datastore's name."""
        return self._datastore.name

    @property
    def path_on_datastore(self) -> str | None:
        """The path within the datastore."""
        return self._path_on_datastore

    def create_data_reference(self, data_reference_name: str | None = None,
                              datapath_compute_binding: DataPathComputeBinding | None = None) -> "DataReference":
        """A DataReference to this path, mounted unless the binding says 'download'."""
        from azuremlcore.data.data_reference import DataReference

        binding = datapath_compute_binding or DataPathComputeBinding()
        return DataReference(self._datastore, data_reference_name=data_reference_name or self._name,
                             path_on_datastore=self._path_on_datastore, mode=binding._mode,
                             path_on_compute=binding._path_on_compute, overwrite=binding._overwrite)

    @staticmethod
    def create_from_data_reference(data_reference: "DataReference") -> "DataPath":
        """The DataPath a DataReference points at."""
        return DataPath(data_reference.datastore, data_reference.path_on_datastore,
                        data_reference.data_reference_name)

    def _resolve_for_run(self, run: "Run | None", working_dir: str) -> Any:
        return self.create_data_reference()._resolve_for_run(run, working_dir)

    def __str__(self) -> str:
        return f"{self.datastore_name}/{self._path_on_datastore or ''}"

    def __repr__(self) -> str:
        return f"DataPath(datastore={self.datastore_name!r}, path_on_datastore={self._path_on_datastore!r})"


__all__ = ["DataPath", "DataPathComputeBinding"]
