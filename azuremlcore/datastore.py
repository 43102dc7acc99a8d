"""Datastore: named storage a workspace reads data from and writes data to (``azureml.core.Datastore``).

Every workspace has the default blob datastore 'workspaceblobstore' — on an embedded workspace a
folder of the workspace's own storage. `Datastore.register_azure_blob_container` adds a real Azure
Blob container (or an Azurite one, through `endpoint='http://127.0.0.1:10000'`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azuremlcore._data.datastores import DEFAULT_KIND, DEFAULT_NAME, KIND  # noqa: F401 - kept importable from here
from azuremlcore._data.datastores import REFUSED as _REFUSED
from azuremlcore._data.datastores import secret_name as _secret_name
from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore.data.azure_storage_datastore import AzureBlobDatastore
    from azuremlcore.workspace import Workspace



class Datastore:
    """A named datastore of a workspace: `Datastore(ws, name)` or `Datastore.get(ws, name)` returns it.

    The object returned is an `AzureBlobDatastore` with `upload`, `upload_files`, `download`, `path`,
    `as_mount` and `as_download`.
    """

    def __new__(cls, workspace: "Workspace", name: str | None = None) -> Any:  # type: ignore[misc]
        return Datastore.get(workspace, name) if name else Datastore._get_default(workspace)

    def __init__(self, workspace: "Workspace", name: str | None = None) -> None:
        """Not reached: `__new__` returns the concrete datastore."""

    @staticmethod
    def get(workspace: "Workspace", datastore_name: str) -> "AzureBlobDatastore":
        """The datastore of that name; UserErrorException naming the existing ones when there is none."""
        from azuremlcore.data.azure_storage_datastore import AzureBlobDatastore

        return AzureBlobDatastore._by_name(workspace, datastore_name)

    @staticmethod
    def get_default(workspace: "Workspace") -> "AzureBlobDatastore":
        """The workspace's default datastore ('workspaceblobstore' unless changed with `set_as_default`)."""
        return Datastore._get_default(workspace)

    @staticmethod
    def _get_default(workspace: "Workspace") -> "AzureBlobDatastore":
        from azuremlcore.data.azure_storage_datastore import AzureBlobDatastore

        return AzureBlobDatastore._default(workspace)

    @staticmethod
    def list(workspace: "Workspace") -> list["AzureBlobDatastore"]:
        """Every datastore of the workspace."""
        from azuremlcore._data.datastores import ensure_default
        from azuremlcore.data.azure_storage_datastore import AzureBlobDatastore

        ensure_default(workspace._store, workspace._ws_id)
        latest: dict[str, Any] = {}
        for rec in workspace._store.list_assets(workspace._ws_id, KIND):
            latest[rec.name] = rec
        return [AzureBlobDatastore._from_spec(workspace, r.name, r.spec) for r in latest.values()]

    @staticmethod
    def register_azure_blob_container(workspace: "Workspace", datastore_name: str, container_name: str,
                                      account_name: str, sas_token: str | None = None,
                                      account_key: str | None = None, protocol: str | None = None,
                                      endpoint: str | None = None, overwrite: bool = False,
                                      create_if_not_exists: bool = False, skip_validation: bool = False,
                                      blob_cache_timeout: int | None = None, grant_workspace_access: bool = False,
                                      subscription_id: str | None = None,
                                      resource_group: str | None = None) -> "AzureBlobDatastore":
        """Register an Azure Blob container as a datastore (credentials go to the workspace's secrets store).

        `endpoint` is the storage suffix ('core.windows.net') or a full URL for emulators such as Azurite
        ('http://127.0.0.1:10000', path-style). Without `overwrite`, an existing name is returned unchanged.
        """
        from azuremlcore.data.azure_storage_datastore import AzureBlobDatastore
        from azuremlcore._data.backends import BlobBackend, blob_account_url

        if not datastore_name or not str(datastore_name).replace("_", "").isalnum():
            raise UserErrorException(f"Invalid datastore name {datastore_name!r}: use letters, digits and '_'.")
        if datastore_name == DEFAULT_NAME:
            raise UserErrorException(f"'{DEFAULT_NAME}' is the workspace's built-in datastore; choose another name.")
        ws_id, store = workspace._ws_id, workspace._store
        if store.get_asset(ws_id, KIND, datastore_name) is not None and not overwrite:
            return Datastore.get(workspace, datastore_name)
        account_url = blob_account_url(account_name, protocol, endpoint)
        backend = BlobBackend(account_url, container_name, account_name, account_key, sas_token)
        if create_if_not_exists or not skip_validation:
            backend.ensure(create=create_if_not_exists, validate=not skip_validation)
        spec = {"datastoreType": "AzureBlob", "embedded": False, "containerName": container_name,
                "accountName": account_name, "protocol": protocol or "https", "endpoint": endpoint,
                "credentialType": "AccountKey" if account_key else ("Sas" if sas_token else "None")}
        if account_key or sas_token:
            store.set_secrets(ws_id, {_secret_name(datastore_name): account_key or sas_token or ""})
        store.put_asset(ws_id, KIND, datastore_name, spec)
        return AzureBlobDatastore._from_spec(workspace, datastore_name, spec)

    @staticmethod
    def register_azure_file_share(workspace: "Workspace", datastore_name: str, file_share_name: str,
                                  account_name: str, sas_token: str | None = None, account_key: str | None = None,
                                  protocol: str | None = None, endpoint: str | None = None, overwrite: bool = False,
                                  create_if_not_exists: bool = False, skip_validation: bool = False) -> Any:
        """Not available: Azure File shares are not supported; use a blob container instead."""
        raise UserErrorException(_REFUSED.format(what="Azure File share"))

    @staticmethod
    def register_azure_data_lake(workspace: "Workspace", datastore_name: str, store_name: str,
                                 *args: Any, **kwargs: Any) -> Any:
        """Not available (Azure Data Lake Gen1)."""
        raise UserErrorException(_REFUSED.format(what="Azure Data Lake"))

    @staticmethod
    def register_azure_data_lake_gen2(workspace: "Workspace", datastore_name: str, filesystem: str,
                                      account_name: str, *args: Any, **kwargs: Any) -> Any:
        """Not available (Azure Data Lake Gen2); its blob endpoint works with register_azure_blob_container."""
        raise UserErrorException(_REFUSED.format(what="Azure Data Lake Gen2"))

    @staticmethod
    def register_azure_sql_database(workspace: "Workspace", datastore_name: str, server_name: str,
                                    database_name: str, *args: Any, **kwargs: Any) -> Any:
        """Not available (Azure SQL Database)."""
        raise UserErrorException(_REFUSED.format(what="Azure SQL Database"))

    @staticmethod
    def register_azure_postgre_sql(workspace: "Workspace", datastore_name: str, server_name: str,
                                   database_name: str, user_id: str, user_password: str, *args: Any,
                                   **kwargs: Any) -> Any:
        """Not available (Azure PostgreSQL)."""
        raise UserErrorException(_REFUSED.format(what="Azure PostgreSQL"))

    @staticmethod
    def register_azure_my_sql(workspace: "Workspace", datastore_name: str, server_name: str, database_name: str,
                              user_id: str, user_password: str, *args: Any, **kwargs: Any) -> Any:
        """Not available (Azure MySQL)."""
        raise UserErrorException(_REFUSED.format(what="Azure MySQL"))

    @staticmethod
    def register_dbfs(workspace: "Workspace", datastore_name: str) -> Any:
        """Not available (Databricks File System)."""
        raise UserErrorException(_REFUSED.format(what="DBFS"))

    @staticmethod
    def register_hdfs(workspace: "Workspace", datastore_name: str, protocol: str, namenode_address: str,
                      *args: Any, **kwargs: Any) -> Any:
        """Not available (HDFS)."""
        raise UserErrorException(_REFUSED.format(what="HDFS"))

    def set_as_default(self) -> None:
        """Not reached on `Datastore` itself; see AzureBlobDatastore.set_as_default."""

    def unregister(self) -> None:
        """Not reached on `Datastore` itself; see AzureBlobDatastore.unregister."""
