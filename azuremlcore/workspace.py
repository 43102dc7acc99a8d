"""Workspace: the top-level home of experiments, runs, environments, models and data.

An embedded workspace is a folder on this machine (`$AZUREMLCORE_HOME`, default
`~/.azuremlcore`), keyed by subscription id, resource group and name exactly as in Azure ML, so
`Workspace.from_config()` and the `print(ws.name, ws.resource_group, ...)` idiom work unchanged.
"""
from __future__ import annotations

import re
import shutil
from typing import TYPE_CHECKING, Any

from azuremlcore.exceptions import ProjectSystemException, UserErrorException, WorkspaceException

if TYPE_CHECKING:
    from azuremlcore._store.artifacts import FileArtifactStore
    from azuremlcore._store.handle import WorkspaceHandle
    from azuremlcore._store.protocol import WorkspaceStore
    from azuremlcore._store.records import WorkspaceRecord
    from azuremlcore.experiment import Experiment
    from azuremlcore.keyvault import Keyvault
    from azuremlcore.run import Run

_WORKSPACE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{1,32}$")
_RESOURCE_GROUP = re.compile(r"^[-\w.()]{1,90}$")
_AZURE_ONLY = ("This is an Azure networking/infrastructure feature; an azuremlcore workspace runs on your own "
               "machine or server and has no {what}.")


def _check_coordinates(name: str, subscription_id: str, resource_group: str) -> None:
    if not isinstance(name, str) or not _WORKSPACE_NAME.match(name):
        raise UserErrorException(
            f"Invalid workspace name {name!r}: use 2 to 33 characters, letters, digits, '-' or '_', "
            "starting with a letter or digit.")
    if not isinstance(subscription_id, str) or not subscription_id or "/" in subscription_id:
        raise UserErrorException(f"Invalid subscription_id {subscription_id!r}: pass a non-empty id without '/'.")
    if not isinstance(resource_group, str) or not _RESOURCE_GROUP.match(resource_group):
        raise UserErrorException(
            f"Invalid resource_group {resource_group!r}: use 1 to 90 letters, digits, '-', '_', '.', '(' or ')'.")


def _default_endpoint() -> str | None:
    """The workspace server to use when none is named: $AZUREMLCORE_ENDPOINT (unset means embedded)."""
    import os

    return os.environ.get("AZUREMLCORE_ENDPOINT") or None


def _open(endpoint: str | None, auth: Any) -> tuple["WorkspaceStore", "FileArtifactStore"]:
    if endpoint:
        from azuremlcore._client import open_rest
        from azuremlcore.authentication import client_credential

        return open_rest(endpoint, auth, client_credential)  # type: ignore[return-value]
    from azuremlcore._store import open_embedded

    return open_embedded()


class Workspace:
    """An Azure ML workspace, embedded on this machine.

    `Workspace(subscription_id, resource_group, workspace_name)` loads an existing workspace and
    raises `ProjectSystemException` when there is none; `Workspace.create(...)` makes one.
    """

    DEFAULT_CPU_CLUSTER_NAME = "cpu-cluster"
    DEFAULT_GPU_CLUSTER_NAME = "gpu-cluster"
    # Keyword arguments for AmlCompute.provisioning_configuration(...) of the default clusters.
    DEFAULT_CPU_CLUSTER_CONFIGURATION: dict[str, Any] = {"vm_size": "STANDARD_DS3_V2", "min_nodes": 0, "max_nodes": 4}
    DEFAULT_GPU_CLUSTER_CONFIGURATION: dict[str, Any] = {"vm_size": "STANDARD_NC6", "min_nodes": 0, "max_nodes": 1}

    def __init__(self, subscription_id: str, resource_group: str, workspace_name: str, auth: Any = None,
                 _location: str | None = None, _disable_service_check: bool = False,
                 _workspace_id: str | None = None, sku: str = "basic", tags: dict | None = None,
                 _cloud: str = "AzureCloud", _endpoint: str | None = None) -> None:
        self._auth = auth
        self._endpoint = _endpoint or _default_endpoint()
        self._store, self._artifacts = _open(self._endpoint, auth)
        found = self._store.find_workspace(subscription_id, resource_group, workspace_name)
        if not found:
            create = (f"Workspace.create(name='{workspace_name}', subscription_id='{subscription_id}', "
                      f"resource_group='{resource_group}', exist_ok=True)")
            if self._endpoint:
                # Workspace.create has no endpoint argument (the real SDK's signature): without this, the hint
                # would make an embedded workspace on this machine, not one on the server the config names.
                raise ProjectSystemException(
                    f"Workspace '{workspace_name}' not found in resource group '{resource_group}' of subscription "
                    f"'{subscription_id}' on the server {self._endpoint}. Create it there with {create} while "
                    f"AZUREMLCORE_ENDPOINT={self._endpoint} is set, or from a shell: aml workspace create -w "
                    f"{workspace_name} -g {resource_group} --subscription-id {subscription_id} "
                    f"--endpoint {self._endpoint}")
            raise ProjectSystemException(
                f"Workspace '{workspace_name}' not found in resource group '{resource_group}' of subscription "
                f"'{subscription_id}'. Create it with {create}.")
        self._record: WorkspaceRecord = found[0]
        if self._endpoint:
            from azuremlcore._tracking.spool_sync import adopt

            adopt(self._handle)  # what an earlier process left unsent to this server (background, once)

    @classmethod
    def _from_record(cls, store: "WorkspaceStore", artifacts: "FileArtifactStore", record: "WorkspaceRecord",
                     auth: Any = None, endpoint: str | None = None) -> "Workspace":
        ws = cls.__new__(cls)
        ws._auth, ws._endpoint, ws._store, ws._artifacts, ws._record = auth, endpoint, store, artifacts, record
        if endpoint:
            from azuremlcore._tracking.spool_sync import adopt

            adopt(ws._handle)
        return ws

    # ------------------------------------------------------------------ creating and finding
    @staticmethod
    def create(name: str, auth: Any = None, subscription_id: str | None = None, resource_group: str | None = None,
               location: str | None = None, create_resource_group: bool = True, sku: str = "basic",
               tags: dict | None = None, friendly_name: str | None = None, storage_account: str | None = None,
               key_vault: str | None = None, app_insights: str | None = None, container_registry: str | None = None,
               adb_workspace: str | None = None, primary_user_assigned_identity: str | None = None,
               cmk_keyvault: str | None = None, resource_cmk_uri: str | None = None, hbi_workspace: bool = False,
               default_cpu_compute_target: Any = None, default_gpu_compute_target: Any = None,
               private_endpoint_config: Any = None, private_endpoint_auto_approval: bool = True,
               exist_ok: bool = False, show_output: bool = True,
               user_assigned_identity_for_cmk_encryption: str | None = None,
               system_datastores_auth_mode: str = "accessKey", v1_legacy_mode: bool | None = None) -> "Workspace":
        """Create a workspace (or, with `exist_ok=True`, return the existing one of that name).

        Without a subscription_id or resource_group, "local" is used. Azure resources (storage
        account, key vault, registry, private endpoints) don't apply to an embedded workspace and
        are ignored; the workspace has its own secrets store and artifact folder instead.
        """
        from azuremlcore._store.records import WorkspaceRecord

        subscription_id = subscription_id or "local"
        resource_group = resource_group or "local"
        _check_coordinates(name, subscription_id, resource_group)
        endpoint = _default_endpoint()
        store, artifacts = _open(endpoint, auth)
        existing = store.find_workspace(subscription_id, resource_group, name)
        if existing and not exist_ok:
            raise UserErrorException(
                f"Workspace '{name}' already exists in resource group '{resource_group}'. Pass exist_ok=True "
                "to get it, or use Workspace.get().")
        if not existing and not create_resource_group and not store.find_workspace(subscription_id, resource_group, None):
            raise UserErrorException(
                f"Resource group '{resource_group}' does not exist (no workspace uses it); pass "
                "create_resource_group=True to create it.")
        record = store.create_workspace(WorkspaceRecord(
            id="", subscription_id=subscription_id, resource_group=resource_group, name=name,
            location=location or "local", sku=sku, friendly_name=friendly_name or name, tags=dict(tags or {})),
            exist_ok=True)
        if show_output and not existing:
            # On a server the local folder is only a cache: name where the workspace lives.
            print(f"Created workspace '{name}' on {endpoint}" if endpoint
                  else f"Created workspace '{name}' in {artifacts.root.parent}")
        return Workspace._from_record(store, artifacts, record, auth, endpoint)

    @staticmethod
    def get(name: str, auth: Any = None, subscription_id: str | None = None, resource_group: str | None = None,
            location: str | None = None, cloud: str = "AzureCloud", id: str | None = None) -> "Workspace":
        """The workspace of that name; subscription and resource group narrow the search when several match."""
        endpoint = _default_endpoint()
        store, artifacts = _open(endpoint, auth)
        found = store.find_workspace(subscription_id, resource_group, name)
        if not found:
            raise ProjectSystemException(
                f"No workspace named '{name}'" + (f" in resource group '{resource_group}'" if resource_group else "")
                + ". Create it with Workspace.create(name=..., exist_ok=True).")
        if len(found) > 1:
            where = ", ".join(f"{r.subscription_id}/{r.resource_group}" for r in found)
            raise UserErrorException(f"Several workspaces are named '{name}' ({where}): pass subscription_id and "
                                     "resource_group to choose one.")
        return Workspace._from_record(store, artifacts, found[0], auth, endpoint)

    @staticmethod
    def from_config(path: str | None = None, auth: Any = None, _logger: Any = None,
                    _file_name: str | None = None) -> "Workspace":
        """The workspace named by the nearest config file (see `write_config`).

        Looks in `path` (a file or folder) or the current folder and each parent, in `.azureml/`,
        `aml_config/` and the folder itself, for `config.json` then `project.json`.
        """
        from azuremlcore._config import find_config, read_config

        file = find_config(path, _file_name)
        cfg = read_config(file)
        return Workspace(cfg.subscription_id, cfg.resource_group, cfg.workspace_name, auth=auth,
                         _endpoint=cfg.endpoint)

    @staticmethod
    def list(subscription_id: str | None, auth: Any = None, resource_group: str | None = None) -> dict[str, list["Workspace"]]:
        """Workspaces of a subscription (all when None): a dict of name -> [Workspace]."""
        endpoint = _default_endpoint()
        store, artifacts = _open(endpoint, auth)
        out: dict[str, list[Workspace]] = {}
        for r in store.find_workspace(subscription_id, resource_group, None):
            out.setdefault(r.name, []).append(Workspace._from_record(store, artifacts, r, auth, endpoint))
        return out

    @staticmethod
    def setup() -> "Workspace":
        """Create or get the workspace named by the config file in this folder or its parents."""
        from azuremlcore._config import find_config, read_config

        cfg = read_config(find_config())
        return Workspace.create(cfg.workspace_name, subscription_id=cfg.subscription_id,
                                resource_group=cfg.resource_group, exist_ok=True, show_output=False)

    def write_config(self, path: str | None = None, file_name: str | None = None) -> None:
        """Write `<path or .>/.azureml/<file_name or config.json>` so `Workspace.from_config()` finds this workspace."""
        from azuremlcore._config import WorkspaceConfig, write_config

        write_config(WorkspaceConfig(subscription_id=self.subscription_id, resource_group=self.resource_group,
                                     workspace_name=self.name, endpoint=self._endpoint), path, file_name)

    def delete(self, delete_dependent_resources: bool = False, no_wait: bool = False) -> None:
        """Delete the workspace with all its experiments, runs, files, assets and secrets. Cannot be undone."""
        self._store.delete_workspace(self._ws_id)
        shutil.rmtree(self._artifacts.root / self._ws_id, ignore_errors=True)

    # ------------------------------------------------------------------ properties
    @property
    def _ws_id(self) -> str:
        return self._record.id

    def _web_base(self) -> str:
        """The web view's address for this workspace: its server, or the `aml studio` of its embedded home."""
        if self._endpoint:
            return self._endpoint.rstrip("/")
        from azuremlcore._store import studio_url

        return studio_url.base_url(self._artifacts.root.parent)

    @property
    def _handle(self) -> "WorkspaceHandle":
        """This workspace as the machinery below the public layer takes it (record, stores, endpoint)."""
        from azuremlcore._store.handle import WorkspaceHandle

        return WorkspaceHandle(self._store, self._artifacts, self._record, self._endpoint)

    @property
    def name(self) -> str:
        """The workspace name."""
        return self._record.name

    @property
    def subscription_id(self) -> str:
        """The subscription id the workspace is keyed by."""
        return self._record.subscription_id

    @property
    def resource_group(self) -> str:
        """The resource group the workspace is keyed by."""
        return self._record.resource_group

    @property
    def location(self) -> str:
        """The location given at creation ("local" by default)."""
        return self._record.location

    @property
    def sku(self) -> str:
        """The SKU given at creation (informational)."""
        return self._record.sku

    @property
    def tags(self) -> dict[str, str]:
        """The workspace's tags."""
        return dict(self._record.tags)

    @property
    def discovery_url(self) -> str:
        """Where this workspace's store is: the server's URL, or the embedded home folder as a file:// URL."""
        return self._endpoint or self._artifacts.root.parent.as_uri()

    @property
    def service_context(self) -> dict[str, str]:
        """The coordinates and location of the workspace's store."""
        return {"subscription_id": self.subscription_id, "resource_group": self.resource_group,
                "workspace_name": self.name, "workspace_id": self._ws_id, "endpoint": self.discovery_url}

    def get_details(self) -> dict[str, Any]:
        """The workspace's details, with the keys of Azure ML's (id, name, location, sku, workspaceid, ...)."""
        from azuremlcore._config import arm_id
        from azuremlcore._timeutil import iso

        r = self._record
        return {
            "id": arm_id(r.subscription_id, r.resource_group, r.name), "name": r.name, "location": r.location,
            "type": "Microsoft.MachineLearningServices/workspaces", "tags": dict(r.tags), "sku": r.sku,
            "workspaceid": r.id, "description": r.description or "", "friendlyName": r.friendly_name or r.name,
            "creationTime": iso(r.created_time), "discoveryUrl": self.discovery_url,
            "storageAccount": str(self._artifacts.root / r.id), "keyVault": "workspace secrets (built in)",
            "hbiWorkspace": False, "provisioningState": "Succeeded",
        }

    def update(self, friendly_name: str | None = None, description: str | None = None, tags: dict | None = None,
               image_build_compute: str | None = None, service_managed_resources_settings: Any = None,
               primary_user_assigned_identity: str | None = None,
               allow_public_access_when_behind_vnet: bool | None = None, v1_legacy_mode: bool | None = None) -> None:
        """Change the friendly name, description or tags (other settings are Azure-only and ignored)."""
        fields: dict[str, Any] = {}
        if friendly_name is not None:
            fields["friendly_name"] = friendly_name
        if description is not None:
            fields["description"] = description
        if tags is not None:
            fields["tags"] = {**self._record.tags, **tags}
        self._record = self._store.update_workspace(self._ws_id, **fields)

    # ------------------------------------------------------------------ collections
    @property
    def experiments(self) -> dict[str, "Experiment"]:
        """Active experiments by name."""
        from azuremlcore.experiment import Experiment

        return {e.name: Experiment._from_record(self, e) for e in self._store.list_experiments(self._ws_id)}

    def get_run(self, run_id: str) -> "Run":
        """The run with that id, in any experiment of this workspace."""
        from azuremlcore.run import Run

        return Run.get(self, run_id)

    @property
    def compute_targets(self) -> dict[str, Any]:
        """Compute targets by name."""
        from azuremlcore.compute import ComputeTarget

        return {c.name: c for c in ComputeTarget.list(self)}

    @property
    def environments(self) -> dict[str, Any]:
        """Registered environments by name (latest version)."""
        from azuremlcore.environment import Environment

        return Environment.list(self)

    @property
    def datastores(self) -> dict[str, Any]:
        """Datastores by name."""
        from azuremlcore.datastore import Datastore

        return {d.name: d for d in Datastore.list(self)}

    @property
    def datasets(self) -> dict[str, Any]:
        """Registered datasets by name (latest version)."""
        from azuremlcore.dataset import Dataset

        return Dataset.get_all(self)

    @property
    def models(self) -> dict[str, Any]:
        """Registered models by name (latest version)."""
        from azuremlcore.model import Model

        return {m.name: m for m in Model.list(self, latest=True)}

    @property
    def webservices(self) -> dict[str, Any]:
        """Deployed web services by name."""
        from azuremlcore.webservice import Webservice

        return {s.name: s for s in Webservice.list(self)}

    @property
    def images(self) -> dict[str, Any]:
        """Container images; none exist, since images are not built here (see `Model.package`)."""
        return {}

    @property
    def linked_services(self) -> dict[str, Any]:
        """Linked Synapse workspaces; an embedded workspace has none."""
        return {}

    @property
    def private_endpoints(self) -> dict[str, Any]:
        """Private endpoints; an embedded workspace has none."""
        return {}

    def get_default_datastore(self) -> Any:
        """The default datastore ('workspaceblobstore': a folder of this workspace unless changed)."""
        from azuremlcore.datastore import Datastore

        return Datastore._get_default(self)

    def set_default_datastore(self, name: str) -> None:
        """Make the named datastore the default."""
        from azuremlcore.datastore import Datastore

        Datastore.get(self, name).set_as_default()

    def get_default_compute_target(self, type: str) -> Any:
        """The default cluster for "CPU" or "GPU" (named cpu-cluster / gpu-cluster) if it exists, else None."""
        name = self.DEFAULT_GPU_CLUSTER_NAME if str(type).upper() == "GPU" else self.DEFAULT_CPU_CLUSTER_NAME
        return self.compute_targets.get(name)

    def get_default_keyvault(self) -> "Keyvault":
        """The workspace's secrets store (stands in for Azure Key Vault): set_secret / get_secret / list_secrets."""
        from azuremlcore.keyvault import Keyvault

        return Keyvault(self)

    def get_mlflow_tracking_uri(self, _with_auth: bool = False) -> str:
        """The URI to pass to `mlflow.set_tracking_uri` so that MLflow logs into this workspace.

        An embedded workspace needs no server (the URI carries the home folder when it is not the
        default). For a server workspace, the workspace's `auth` (if any) is what MLflow's requests in
        this process carry, asked for fresh tokens without prompting; without one, MLflow uses the SDK's
        login for the server. `_with_auth` changes nothing (tokens never go into the URI).
        MLflow finds the `azureml://` scheme through the `azuremlmlflow` plugins (`pip install mlflow`).
        """
        from azuremlcore._tracking.mlflow_uri import build

        if self._endpoint:
            if self._auth is not None:
                from azuremlcore._client import credentials

                credentials.register(self._endpoint, self._auth, silent=True)
            return build(self.subscription_id, self.resource_group, self.name, endpoint=self._endpoint)
        return build(self.subscription_id, self.resource_group, self.name, home=self._artifacts.root.parent)

    # ------------------------------------------------------------------ connections
    def set_connection(self, name: str, category: str, target: str, authType: str, value: str) -> None:
        """Add or update a named connection (stored with the workspace's assets)."""
        spec = {"name": name, "category": category, "target": target, "authType": authType, "value": value}
        self._store.put_asset(self._ws_id, "connection", name, spec)

    def get_connection(self, name: str) -> dict[str, Any]:
        """A connection by name."""
        rec = self._store.get_asset(self._ws_id, "connection", name)
        if rec is None or rec.spec.get("deleted"):
            raise UserErrorException(f"Connection '{name}' does not exist; create it with ws.set_connection(...).")
        return rec.spec

    def list_connections(self, category: str | None = None, target: str | None = None) -> list[dict[str, Any]]:
        """Connections, optionally of one category or target."""
        latest: dict[str, dict[str, Any]] = {}
        for rec in self._store.list_assets(self._ws_id, "connection"):
            latest[rec.name] = rec.spec
        return [c for c in latest.values() if (category is None or c.get("category") == category)
                and (target is None or c.get("target") == target)]

    def delete_connection(self, name: str) -> None:
        """Delete a connection."""
        self.get_connection(name)
        self._store.delete_asset(self._ws_id, "connection", name)

    # ------------------------------------------------------------------ Azure-only
    def diagnose_workspace(self, diagnose_parameters: Any = None) -> dict[str, Any]:
        """Check that the workspace's store answers and its artifact folder is writable."""
        problems = []
        try:
            self._store.get_workspace(self._ws_id)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            problems.append(f"store: {exc}")
        try:
            self._artifacts.put(f"{self._ws_id}/.diagnose", "probe", b"ok")
            self._artifacts.delete(f"{self._ws_id}/.diagnose")
        except OSError as exc:
            problems.append(f"artifacts: {exc}")
        return {"value": {"problems": problems, "healthy": not problems}}

    def list_keys(self) -> dict[str, Any]:
        """Not available: storage and registry keys belong to Azure resources an embedded workspace doesn't have."""
        raise WorkspaceException(_AZURE_ONLY.format(what="storage account or container registry keys"))

    def sync_keys(self, no_wait: bool = False) -> None:
        """Nothing to do: an embedded workspace holds no keys of other resources."""

    def update_dependencies(self, container_registry: str | None = None, force: bool = False) -> None:
        """Not available: an embedded workspace has no Azure dependencies to update."""
        raise WorkspaceException(_AZURE_ONLY.format(what="Azure resource dependencies"))

    def add_private_endpoint(self, private_endpoint_config: Any, private_endpoint_auto_approval: bool = True,
                             location: str | None = None, show_output: bool = True, tags: dict | None = None) -> None:
        """Not available: private endpoints are Azure networking."""
        raise WorkspaceException(_AZURE_ONLY.format(what="private endpoints"))

    def delete_private_endpoint_connection(self, private_endpoint_connection_name: str) -> None:
        """Not available: private endpoints are Azure networking."""
        raise WorkspaceException(_AZURE_ONLY.format(what="private endpoints"))

    def _repr_html_(self) -> str:
        """The table a notebook shows for this workspace (with a link to its page)."""
        from azuremlcore._html_repr import workspace_html

        return workspace_html(self)

    def __repr__(self) -> str:
        return (f"Workspace.create(name='{self.name}', subscription_id='{self.subscription_id}', "
                f"resource_group='{self.resource_group}')")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and other._ws_id == self._ws_id

    def __hash__(self) -> int:
        return hash(self._ws_id)

