"""Where a datastore's files live: a folder of the workspace's artifact store, or an Azure Blob container.

Both expose the same small interface over '/'-separated names, so datastores and datasets never
care which one they talk to.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from azuremlcore.exceptions import UserErrorException


class StorageBackend(Protocol):
    """Files of one datastore, by '/'-separated name."""

    def list(self, prefix: str = "") -> list[str]: ...
    def exists(self, name: str) -> bool: ...
    def put_file(self, name: str, local_path: str | os.PathLike[str]) -> None: ...
    def get_file(self, name: str, dest: str | os.PathLike[str]) -> None: ...
    def delete(self, name: str) -> None: ...
    def local_folder(self) -> Path | None: ...


class FolderBackend:
    """A container of the workspace's artifact store (the embedded 'workspaceblobstore')."""

    def __init__(self, artifacts: Any, container: str) -> None:
        self.artifacts, self.container = artifacts, container

    def list(self, prefix: str = "") -> list[str]:
        """Names under the prefix (all when empty), sorted."""
        return self.artifacts.list(self.container, prefix or None)

    def exists(self, name: str) -> bool:
        """Whether the file exists."""
        return self.artifacts.exists(self.container, name)

    def put_file(self, name: str, local_path: str | os.PathLike[str]) -> None:
        """Store a local file as name (overwrites)."""
        self.artifacts.put(self.container, name, local_path)

    def get_file(self, name: str, dest: str | os.PathLike[str]) -> None:
        """Copy a file out to dest."""
        self.artifacts.download(self.container, name, dest)

    def delete(self, name: str) -> None:
        """Delete one file."""
        self.artifacts.delete(self.container, name)

    def local_folder(self) -> Path | None:
        """The folder itself when the artifact store is on this machine (lets mounts avoid copying)."""
        from azuremlcore._store.artifacts import FileArtifactStore

        if isinstance(self.artifacts, FileArtifactStore):
            return self.artifacts.root / self.container
        return None


def blob_account_url(account_name: str, protocol: str | None, endpoint: str | None) -> str:
    """The account URL: https://<account>.blob.<endpoint>, or path-style <endpoint>/<account> for a full URL
    endpoint such as Azurite's 'http://127.0.0.1:10000'."""
    if endpoint and "://" in endpoint:
        url = endpoint.rstrip("/")
        return url if url.endswith("/" + account_name) else f"{url}/{account_name}"
    return f"{protocol or 'https'}://{account_name}.blob.{endpoint or 'core.windows.net'}"


class BlobBackend:
    """An Azure Blob Storage container (or an Azurite one), through azure-storage-blob."""

    def __init__(self, account_url: str, container_name: str, account_name: str, account_key: str | None = None,
                 sas_token: str | None = None) -> None:
        try:
            from azure.storage.blob import ContainerClient
        except ImportError as exc:
            raise UserErrorException("Azure Blob datastores need azure-storage-blob: "
                                     "pip install 'amlcore-open[azure]' (or pip install azure-storage-blob).") from exc
        credential: Any = None
        if account_key:
            credential = {"account_name": account_name, "account_key": account_key}
        elif sas_token:
            credential = sas_token.lstrip("?")
        self.client = ContainerClient(account_url, container_name, credential=credential)
        self.container_name = container_name

    def ensure(self, create: bool, validate: bool) -> None:
        """Create the container when asked; check it answers when validating."""
        from azure.core.exceptions import AzureError, ResourceExistsError

        try:
            if create:
                try:
                    self.client.create_container()
                except ResourceExistsError:
                    pass
            elif validate and not self.client.exists():
                raise UserErrorException(
                    f"Blob container '{self.container_name}' does not exist: create it, pass "
                    "create_if_not_exists=True, or skip_validation=True to register it anyway.")
        except AzureError as exc:
            raise UserErrorException(f"Cannot reach blob container '{self.container_name}' at "
                                     f"{self.client.url}: {exc}. Check the account name, key or SAS token and "
                                     "endpoint, or pass skip_validation=True.") from exc

    def list(self, prefix: str = "") -> list[str]:
        """Blob names under the prefix, sorted."""
        return sorted(b.name for b in self.client.list_blobs(name_starts_with=prefix or None))

    def exists(self, name: str) -> bool:
        """Whether the blob exists."""
        return self.client.get_blob_client(name).exists()

    def put_file(self, name: str, local_path: str | os.PathLike[str]) -> None:
        """Upload a local file as name (overwrites)."""
        with open(local_path, "rb") as f:
            self.client.upload_blob(name, f, overwrite=True)

    def get_file(self, name: str, dest: str | os.PathLike[str]) -> None:
        """Download a blob to dest (written to a temporary name first)."""
        out = Path(dest)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.part")
        try:
            with open(tmp, "wb") as f:
                self.client.download_blob(name).readinto(f)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, name: str) -> None:
        """Delete one blob."""
        self.client.delete_blob(name)

    def local_folder(self) -> Path | None:
        """None: blobs are never on this machine."""
        return None
