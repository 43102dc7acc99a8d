"""Datastore records: the built-in default, look-up by name, and the storage backend a record stands for.

A datastore is an asset of kind ``datastore`` whose spec says where its files are (a folder of
the workspace's artifact store, or an Azure Blob container; credentials in the workspace's
secrets). The public `Datastore` and `AzureBlobDatastore` objects and the dataset machinery all
read datastores through these functions.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore._data.backends import StorageBackend
    from azuremlcore._store.handle import WorkspaceHandle
    from azuremlcore._store.protocol import WorkspaceStore

KIND = "datastore"
DEFAULT_KIND = "datastore-default"
DEFAULT_NAME = "workspaceblobstore"
REFUSED = ("{what} datastores are not available in azuremlcore: it supports the workspace's default datastore and "
           "Azure Blob containers (Datastore.register_azure_blob_container). Copy the data into a blob container, "
           "or upload it with ws.get_default_datastore().upload(...).")


def secret_name(name: str) -> str:
    """The workspace secret that holds a datastore's account key or SAS token."""
    return f"azureml-datastore-{name}-credential"


def ensure_default(store: "WorkspaceStore", ws_id: str) -> None:
    """Create the built-in 'workspaceblobstore' (a folder of the workspace's own storage) on first use."""
    if store.get_asset(ws_id, KIND, DEFAULT_NAME) is None:
        store.put_asset(ws_id, KIND, DEFAULT_NAME, {
            "datastoreType": "AzureBlob", "embedded": True, "containerName": f"azureml-blobstore-{ws_id}",
            "accountName": "local", "protocol": "file", "endpoint": None, "credentialType": "None"},
            description="The workspace's default blob datastore (a folder of its own storage).")


def spec_of(ws: "WorkspaceHandle", name: str) -> dict[str, Any]:
    """The spec of the named datastore; UserErrorException naming the existing ones when there is none."""
    ensure_default(ws.store, ws.id)
    rec = ws.store.get_asset(ws.id, KIND, name)
    if rec is None:
        names = sorted({r.name for r in ws.store.list_assets(ws.id, KIND)})
        raise UserErrorException(f"Datastore '{name}' does not exist in workspace '{ws.name}'. "
                                 f"It has: {', '.join(names)}. Register one with "
                                 "Datastore.register_azure_blob_container(...).")
    return dict(rec.spec)


def default_name(ws: "WorkspaceHandle") -> str:
    """The name of the workspace's default datastore (the built-in one when the chosen default was removed)."""
    rec = ws.store.get_asset(ws.id, DEFAULT_KIND, "default")
    name = rec.spec.get("name", DEFAULT_NAME) if rec else DEFAULT_NAME
    ensure_default(ws.store, ws.id)
    return name if ws.store.get_asset(ws.id, KIND, name) is not None else DEFAULT_NAME


def credentials(ws: "WorkspaceHandle", name: str, spec: dict[str, Any]) -> tuple[str | None, str | None]:
    """(account key, SAS token) of a datastore, read from the workspace's secrets as its spec says."""
    kind = spec.get("credentialType")
    if kind not in ("AccountKey", "Sas"):
        return None, None
    secret = ws.store.get_secrets(ws.id, [secret_name(name)]).get(secret_name(name))
    return (secret, None) if kind == "AccountKey" else (None, secret)


def make_backend(artifacts: Any, ws_id: str, name: str, *, embedded: bool, account_name: str, container_name: str,
                 protocol: str | None, endpoint: str | None, account_key: str | None,
                 sas_token: str | None) -> "StorageBackend":
    """The backend of a datastore: its folder of the artifact store when embedded, else its blob container."""
    from azuremlcore._data.backends import BlobBackend, FolderBackend, blob_account_url

    if embedded:
        return FolderBackend(artifacts, f"{ws_id}/datastores/{name}")
    url = blob_account_url(account_name, protocol, endpoint)
    return BlobBackend(url, container_name, account_name, account_key, sas_token)


def backend(ws: "WorkspaceHandle", name: str) -> "StorageBackend":
    """The backend of the named datastore of a workspace."""
    spec = spec_of(ws, name)
    key, sas = credentials(ws, name, spec)
    return make_backend(ws.artifacts, ws.id, name, embedded=bool(spec.get("embedded")),
                        account_name=spec["accountName"], container_name=spec["containerName"],
                        protocol=spec.get("protocol") or "https", endpoint=spec.get("endpoint"), account_key=key,
                        sas_token=sas)
