"""AzureBlobDatastore: upload, download and reference the files of a blob datastore (``azureml.data``).

The workspace's default 'workspaceblobstore' is a folder of the workspace's storage; registered
datastores are real Azure Blob (or Azurite) containers. Both behave the same here.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore._data import datastores, transfers
from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore._data.backends import StorageBackend
    from azuremlcore.data.data_reference import DataReference
    from azuremlcore.workspace import Workspace

_join = transfers.join  # kept under its old name: DataReference joins paths with it


class AbstractAzureStorageDatastore:
    """What blob and file datastores share: name, workspace, transfers and data references."""

    def __init__(self, workspace: "Workspace", name: str, datastore_type: str) -> None:
        self._workspace, self._name, self._datastore_type = workspace, name, datastore_type
        self._backend_cache: "StorageBackend | None" = None

    @property
    def name(self) -> str:
        """The datastore's name."""
        return self._name

    @property
    def workspace(self) -> "Workspace":
        """The workspace it belongs to."""
        return self._workspace

    @property
    def datastore_type(self) -> str:
        """'AzureBlob'."""
        return self._datastore_type

    def _backend(self) -> "StorageBackend":
        raise UserErrorException(
            f"Datastore '{self.name}' of type {self.datastore_type} cannot transfer data here: only the "
            "workspace's default datastore and Azure Blob datastores can. Register an Azure Blob container instead.")

    # ------------------------------------------------------------------ transfers

    def upload(self, src_dir: str, target_path: str | None = None, overwrite: bool = False,
               show_progress: bool = True) -> "DataReference":
        """Upload every file under a local folder to `target_path` (the datastore root when None).

        Files that already exist are skipped unless `overwrite=True`. Returns a DataReference to target_path.
        """
        root = Path(src_dir)
        if not root.is_dir():
            raise UserErrorException(f"upload(src_dir={str(src_dir)!r}): no such folder. To upload single files use "
                                     "upload_files(files=[...]).")
        self._put_many(transfers.folder_jobs(root, target_path), overwrite, show_progress)
        return self.path(target_path)

    def upload_files(self, files: list[str], relative_root: str | None = None, target_path: str | None = None,
                     overwrite: bool = False, show_progress: bool = True) -> "DataReference":
        """Upload local files; each is stored at `target_path/<its path relative to relative_root>`.

        `relative_root` defaults to the files' common folder. Existing files are skipped unless `overwrite`.
        """
        if isinstance(files, (str, os.PathLike)):
            files = [str(files)]
        paths = [Path(f) for f in files]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise UserErrorException(f"upload_files: no such file(s): {', '.join(missing[:5])}.")
        if not paths:
            return self.path(target_path)
        absolute = [p.resolve() for p in paths]
        base = Path(relative_root).resolve() if relative_root else Path(os.path.commonpath([p.parent for p in absolute]))
        jobs = []
        for p in absolute:
            try:
                rel = p.relative_to(base).as_posix()
            except ValueError:
                raise UserErrorException(f"upload_files: {p} is not under relative_root {relative_root!r}.") from None
            jobs.append((p, _join(target_path, rel)))
        self._put_many(jobs, overwrite, show_progress)
        return self.path(target_path)

    def _put_many(self, jobs: list[tuple[Path, str]], overwrite: bool, show_progress: bool) -> None:
        transfers.put_many(self._backend(), jobs, overwrite, show_progress, self.name)

    def download(self, target_path: str, prefix: str | None = None, overwrite: bool = False,
                 show_progress: bool = True) -> int:
        """Download the files under `prefix` (all when None) to `target_path`, keeping their datastore paths.

        Existing local files are kept unless `overwrite=True`. Returns the number of files downloaded.
        """
        backend = self._backend()
        prefix_text = _join(prefix) if prefix else ""
        names = backend.list(prefix_text)
        out = Path(target_path)
        jobs = [(n, out / n) for n in names if overwrite or not (out / n).exists()]
        transfers.transfer(jobs, backend.get_file, f"Downloading from {self.name}", show_progress)
        return len(jobs)

    # ------------------------------------------------------------------ references
    def path(self, path: str | None = None, data_reference_name: str | None = None) -> "DataReference":
        """A reference to a folder or file of this datastore (mounted by default when passed to a run)."""
        from azuremlcore.data.data_reference import DataReference

        return DataReference(self, data_reference_name=data_reference_name, path_on_datastore=path)

    def as_mount(self) -> "DataReference":
        """A reference to the datastore root, mounted in a run (its local folder, or a download for blobs)."""
        return self.path().as_mount()

    def as_download(self, path_on_compute: str | None = None) -> "DataReference":
        """A reference to the datastore root, downloaded into a run's working folder."""
        return self.path().as_download(path_on_compute=path_on_compute)

    def as_upload(self, path_on_compute: str | None = None) -> "DataReference":
        """Not available: write run outputs to ./outputs (uploaded with the run) instead."""
        return self.path().as_upload(path_on_compute=path_on_compute)

    # ------------------------------------------------------------------ registration
    def set_as_default(self) -> None:
        """Make this the workspace's default datastore."""
        ws = self._workspace
        ws._store.put_asset(ws._ws_id, datastores.DEFAULT_KIND, "default", {"name": self.name})

    def unregister(self) -> None:
        """Forget this datastore (its files are left where they are). The built-in default cannot be removed."""
        if self.name == datastores.DEFAULT_NAME:
            raise UserErrorException(f"'{datastores.DEFAULT_NAME}' is the workspace's built-in datastore and cannot be "
                                     "unregistered.")
        ws = self._workspace
        ws._store.delete_asset(ws._ws_id, datastores.KIND, self.name)
        ws._store.delete_secret(ws._ws_id, datastores.secret_name(self.name))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, type={self.datastore_type!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, AbstractAzureStorageDatastore) and other.name == self.name
                and other._workspace == self._workspace)

    def __hash__(self) -> int:
        return hash((self.name, self._workspace._ws_id))


class AzureBlobDatastore(AbstractAzureStorageDatastore):
    """A blob datastore: the workspace's 'workspaceblobstore' or a registered Azure Blob container."""

    def __init__(self, workspace: "Workspace", name: str, container_name: str, account_name: str,
                 sas_token: str | None = None, account_key: str | None = None, protocol: str | None = None,
                 endpoint: str | None = None, request_session: Any = None, workspace_msi_has_access: bool = False,
                 subscription_id: str | None = None, resource_group: str | None = None,
                 service_data_access_auth_identity: Any = None) -> None:
        super().__init__(workspace, name, "AzureBlob")
        self.container_name, self.account_name = container_name, account_name
        self.sas_token, self.account_key = sas_token, account_key
        self.protocol, self.endpoint = protocol or "https", endpoint or "core.windows.net"
        self._embedded = False

    @classmethod
    def _by_name(cls, workspace: "Workspace", name: str) -> "AzureBlobDatastore":
        """The workspace's datastore of that name (see `Datastore.get`)."""
        return cls._from_spec(workspace, name, datastores.spec_of(workspace._handle, name))

    @classmethod
    def _default(cls, workspace: "Workspace") -> "AzureBlobDatastore":
        """The workspace's default datastore (see `Datastore.get_default`)."""
        return cls._by_name(workspace, datastores.default_name(workspace._handle))

    @classmethod
    def _from_spec(cls, workspace: "Workspace", name: str, spec: dict[str, Any]) -> "AzureBlobDatastore":
        ds = cls.__new__(cls)
        AbstractAzureStorageDatastore.__init__(ds, workspace, name, spec.get("datastoreType", "AzureBlob"))
        ds.container_name, ds.account_name = spec["containerName"], spec["accountName"]
        ds.protocol, ds.endpoint = spec.get("protocol") or "https", spec.get("endpoint") or "core.windows.net"
        ds._embedded = bool(spec.get("embedded"))
        ds.account_key, ds.sas_token = datastores.credentials(workspace._handle, name, spec)
        ds._spec_endpoint = spec.get("endpoint")
        return ds

    @property
    def is_sas(self) -> bool:
        """Whether the datastore authenticates with a SAS token."""
        return bool(self.sas_token)

    @property
    def credential_type(self) -> str:
        """'AccountKey', 'Sas' or 'None'."""
        return "AccountKey" if self.account_key else ("Sas" if self.sas_token else "None")

    def _backend(self) -> "StorageBackend":
        if self._backend_cache is None:
            ws = self._workspace
            self._backend_cache = datastores.make_backend(
                ws._artifacts, ws._ws_id, self.name, embedded=self._embedded, account_name=self.account_name,
                container_name=self.container_name, protocol=self.protocol,
                endpoint=getattr(self, "_spec_endpoint", self.endpoint), account_key=self.account_key,
                sas_token=self.sas_token)
        return self._backend_cache


class AzureFileDatastore(AbstractAzureStorageDatastore):
    """Azure File share datastores are not supported (see `Datastore.register_azure_file_share`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise UserErrorException(datastores.REFUSED.format(what="Azure File share"))
