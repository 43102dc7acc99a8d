"""Compute targets (``azureml.core.compute``): named clusters and instances, and attached Ray clusters.

An ``AmlCompute`` cluster here is a named queue: submitted runs targeting it run on this machine,
at most ``max_nodes`` at once; the rest wait in status Queued. ``"local"`` is always a valid
target and needs no compute target. A ``RayCompute`` is an attached Ray cluster: its runs are Ray
jobs on the cluster's nodes. The find-or-create idiom works unchanged::

    try:
        cluster = ComputeTarget(workspace=ws, name="cpu-cluster")
    except ComputeTargetException:
        cfg = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=4)
        cluster = ComputeTarget.create(ws, "cpu-cluster", cfg)
        cluster.wait_for_completion(show_output=True)
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterator

from azuremlcore._execution.slots import COMPUTE_KIND, busy_slots, slot_dir
from azuremlcore.exceptions import ComputeTargetException

if TYPE_CHECKING:
    from azuremlcore.run import Run
    from azuremlcore.workspace import Workspace

__all__ = ["ComputeTarget", "AmlCompute", "ComputeInstance", "ComputeTargetException",
           "AmlComputeProvisioningConfiguration", "ComputeInstanceProvisioningConfiguration", "AmlComputeStatus",
           "RayCompute", "RayComputeAttachConfiguration", "RayComputeStatus"]

_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,23}$")
DEFAULT_VM_SIZE = "STANDARD_DS3_V2"
DEFAULT_MAX_NODES = 4
_VM_SIZES = [  # what supported_vmsizes reports: common sizes, all served by this machine
    {"name": "STANDARD_D2_V2", "vCPUs": 2, "gpus": 0, "memoryGB": 7.0, "maxResourceVolumeMB": 102400},
    {"name": "STANDARD_DS3_V2", "vCPUs": 4, "gpus": 0, "memoryGB": 14.0, "maxResourceVolumeMB": 28672},
    {"name": "STANDARD_D13_V2", "vCPUs": 8, "gpus": 0, "memoryGB": 56.0, "maxResourceVolumeMB": 409600},
    {"name": "STANDARD_NC6", "vCPUs": 6, "gpus": 1, "memoryGB": 56.0, "maxResourceVolumeMB": 389120},
]


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ComputeTargetException(
            f"Invalid compute name {name!r}: use 2 to 24 characters, letters, digits and '-', starting with a letter.")
    if name.lower() == "local":
        raise ComputeTargetException("'local' is reserved: submit with compute_target='local' without creating it.")
    return name


# ---------------------------------------------------------------------- provisioning configurations
class ComputeTargetProvisioningConfiguration:
    """Base of the objects `ComputeTarget.create` takes; `_compute_type` is the class it creates."""

    _compute_type: type["ComputeTarget"]

    def validate_configuration(self) -> None:
        """Check the configuration; raises ComputeTargetException with what to fix."""


class AmlComputeProvisioningConfiguration(ComputeTargetProvisioningConfiguration):
    """Settings for a new cluster (made by `AmlCompute.provisioning_configuration`)."""

    def __init__(self, vm_size: str = "", vm_priority: str = "dedicated", min_nodes: int = 0,
                 max_nodes: int | None = None, idle_seconds_before_scaledown: int | None = None,
                 admin_username: str | None = None, admin_user_password: str | None = None,
                 admin_user_ssh_key: str | None = None, vnet_resourcegroup_name: str | None = None,
                 vnet_name: str | None = None, subnet_name: str | None = None, tags: dict | None = None,
                 description: str | None = None, remote_login_port_public_access: str = "NotSpecified",
                 identity_type: str | None = None, identity_id: list | None = None, location: str | None = None,
                 enable_node_public_ip: bool = True) -> None:
        self._compute_type = AmlCompute
        self.vm_size = vm_size or DEFAULT_VM_SIZE
        self.vm_priority = vm_priority
        self.min_nodes = min_nodes
        self.max_nodes = DEFAULT_MAX_NODES if max_nodes is None else max_nodes
        self.idle_seconds_before_scaledown = 1800 if idle_seconds_before_scaledown is None else idle_seconds_before_scaledown
        self.admin_username, self.admin_user_password, self.admin_user_ssh_key = \
            admin_username, admin_user_password, admin_user_ssh_key
        self.vnet_resourcegroup_name, self.vnet_name, self.subnet_name = vnet_resourcegroup_name, vnet_name, subnet_name
        self.tags, self.description = dict(tags or {}), description
        self.remote_login_port_public_access = remote_login_port_public_access
        self.identity_type, self.identity_id, self.location = identity_type, identity_id, location
        self.enable_node_public_ip = enable_node_public_ip
        self.validate_configuration()

    def validate_configuration(self) -> None:
        """Check node counts and priority; raises ComputeTargetException with what to fix."""
        if str(self.vm_priority).lower() not in ("dedicated", "lowpriority"):
            raise ComputeTargetException(f"vm_priority must be 'dedicated' or 'lowpriority', got {self.vm_priority!r}.")
        try:
            lo, hi = int(self.min_nodes), int(self.max_nodes)
        except (TypeError, ValueError):
            raise ComputeTargetException("min_nodes and max_nodes must be whole numbers.") from None
        if lo < 0 or hi < 1 or lo > hi:
            raise ComputeTargetException(
                f"Invalid node counts min_nodes={self.min_nodes}, max_nodes={self.max_nodes}: "
                "use 0 <= min_nodes <= max_nodes and max_nodes >= 1.")


class ComputeInstanceProvisioningConfiguration(ComputeTargetProvisioningConfiguration):
    """Settings for a new compute instance (made by `ComputeInstance.provisioning_configuration`)."""

    def __init__(self, vm_size: str = "", ssh_public_access: bool = False, admin_user_ssh_public_key: str | None = None,
                 vnet_resourcegroup_name: str | None = None, vnet_name: str | None = None,
                 subnet_name: str | None = None, tags: dict | None = None, description: str | None = None,
                 assigned_user_object_id: str | None = None, assigned_user_tenant_id: str | None = None,
                 **kwargs: Any) -> None:
        self._compute_type = ComputeInstance
        self.vm_size = vm_size or DEFAULT_VM_SIZE
        self.ssh_public_access, self.admin_user_ssh_public_key = ssh_public_access, admin_user_ssh_public_key
        self.vnet_resourcegroup_name, self.vnet_name, self.subnet_name = vnet_resourcegroup_name, vnet_name, subnet_name
        self.tags, self.description = dict(tags or {}), description
        self.assigned_user_object_id, self.assigned_user_tenant_id = assigned_user_object_id, assigned_user_tenant_id


# ---------------------------------------------------------------------- status
class AmlComputeStatus:
    """A cluster's current state: nodes busy with runs, scale settings, provisioning state."""

    def __init__(self, spec: dict[str, Any], busy: int, queued: int) -> None:
        props = spec.get("properties", {})
        scale = props.get("scaleSettings", {})
        self.allocation_state = "Steady"
        self.allocation_state_transition_time = None
        self.creation_time = spec.get("createdOn")
        self.current_node_count = max(busy, int(scale.get("minNodeCount") or 0))
        self.errors = None
        self.modified_time = spec.get("modifiedOn")
        self.node_state_counts = {"idleNodeCount": self.current_node_count - busy, "runningNodeCount": busy,
                                  "preparingNodeCount": 0, "unusableNodeCount": 0, "leavingNodeCount": 0,
                                  "preemptedNodeCount": 0}
        self.provisioning_state = spec.get("provisioningState", "Succeeded")
        self.provisioning_state_transition_time = spec.get("modifiedOn")
        self.scale_settings = dict(scale)
        self.target_node_count = min(int(scale.get("maxNodeCount") or 1), max(busy + queued,
                                                                              int(scale.get("minNodeCount") or 0)))
        self.vm_priority = props.get("vmPriority")
        self.vm_size = props.get("vmSize")

    def serialize(self) -> dict[str, Any]:
        """The status as a dict with Azure ML's keys."""
        return {"currentNodeCount": self.current_node_count, "targetNodeCount": self.target_node_count,
                "nodeStateCounts": self.node_state_counts, "allocationState": self.allocation_state,
                "allocationStateTransitionTime": self.allocation_state_transition_time, "errors": self.errors,
                "creationTime": self.creation_time, "modifiedTime": self.modified_time,
                "provisioningState": self.provisioning_state,
                "provisioningStateTransitionTime": self.provisioning_state_transition_time,
                "scaleSettings": self.scale_settings, "vmPriority": self.vm_priority, "vmSize": self.vm_size}

    def __repr__(self) -> str:
        return f"AmlComputeStatus({self.serialize()})"


# ---------------------------------------------------------------------- targets
class ComputeTarget:
    """A named compute target of a workspace. `ComputeTarget(workspace=ws, name=...)` returns the stored
    target as its own class (e.g. AmlCompute) and raises ComputeTargetException when there is none."""

    _compute_type_name = ""

    def __new__(cls, workspace: "Workspace | None" = None, name: str | None = None) -> "ComputeTarget":
        if workspace is None or name is None:
            return super().__new__(cls)
        spec = _load_spec(workspace, name)
        kind = spec.get("computeType", "")
        sub = _TYPES.get(kind)
        if sub is None:
            raise ComputeTargetException(f"Compute target '{name}' has an unknown type {kind!r}.")
        if cls is not ComputeTarget and not issubclass(sub, cls):
            raise ComputeTargetException(
                f"Compute target '{name}' is a {kind}, not a {cls._compute_type_name}: use ComputeTarget(workspace, "
                f"'{name}') or {kind}(workspace, '{name}').")
        return super().__new__(sub)

    def __init__(self, workspace: "Workspace", name: str) -> None:
        self._bind(workspace, name, _load_spec(workspace, name))

    def _bind(self, workspace: "Workspace", name: str, spec: dict[str, Any]) -> None:
        self._workspace = workspace
        self.workspace = workspace
        self.name = name
        self._spec = spec
        props = spec.get("properties", {})
        self.type = spec.get("computeType", self._compute_type_name)
        self.location = spec.get("computeLocation", "local")
        self.description = spec.get("description")
        self.tags = dict(spec.get("tags") or {})
        self.created_on = spec.get("createdOn")
        self.modified_on = spec.get("modifiedOn")
        self.provisioning_state = spec.get("provisioningState", "Succeeded")
        self.provisioning_errors = None
        self.cluster_resource_id = self.id = (
            f"/subscriptions/{workspace.subscription_id}/resourceGroups/{workspace.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{workspace.name}/computes/{name}")
        self.is_attached = bool(spec.get("isAttached", False))
        self._properties = props

    @classmethod
    def _from_spec(cls, workspace: "Workspace", name: str, spec: dict[str, Any]) -> "ComputeTarget":
        target = object.__new__(_TYPES.get(spec.get("computeType", ""), cls))
        target._bind(workspace, name, spec)
        return target

    # ------------------------------------------------------------------ create / find
    @staticmethod
    def create(workspace: "Workspace", name: str, provisioning_configuration: Any) -> "ComputeTarget":
        """Create a compute target from a provisioning configuration (e.g. `AmlCompute.provisioning_configuration`).

        An existing name raises ComputeTargetException: use `ComputeTarget(workspace=ws, name=...)` to reuse it.
        """
        kind = getattr(provisioning_configuration, "_compute_type", None)
        if kind is None or not hasattr(kind, "_spec_from_config"):
            raise ComputeTargetException(
                "ComputeTarget.create needs a provisioning configuration such as "
                "AmlCompute.provisioning_configuration(vm_size=..., max_nodes=...).")
        _check_name(name)
        store = workspace._store
        if store.get_asset(workspace._ws_id, COMPUTE_KIND, name) is not None:
            raise ComputeTargetException(
                f"Compute target '{name}' already exists in workspace '{workspace.name}': get it with "
                f"ComputeTarget(workspace=ws, name='{name}'), or delete it first.")
        provisioning_configuration.validate_configuration()
        spec = kind._spec_from_config(provisioning_configuration)
        spec.update(_stamp(created=True))
        store.put_asset(workspace._ws_id, COMPUTE_KIND, name, spec, description=spec.get("description"),
                        tags=spec.get("tags"))
        return ComputeTarget._from_spec(workspace, name, spec)

    @staticmethod
    def attach(workspace: "Workspace", name: str, attach_configuration: Any) -> "ComputeTarget":
        """Attach existing compute: a Ray cluster (`RayCompute.attach_configuration(address=...)`).

        Other kinds (VMs, Databricks, Kubernetes) cannot be attached: use a Ray cluster or AmlCompute.
        """
        kind = getattr(attach_configuration, "_compute_type", None)
        if kind is None or not hasattr(kind, "_spec_from_config"):
            raise ComputeTargetException(
                "Attaching remote compute (VMs, Databricks, Kubernetes, ...) is not available; attach a Ray cluster "
                "with RayCompute.attach_configuration(address='http://head:8265'), or create a cluster with "
                "AmlCompute.provisioning_configuration(...).")
        target = ComputeTarget.create(workspace, name, attach_configuration)
        target.is_attached = True
        return target

    @staticmethod
    def list(workspace: "Workspace") -> list["ComputeTarget"]:
        """Every compute target of the workspace."""
        latest: dict[str, Any] = {}
        for rec in workspace._store.list_assets(workspace._ws_id, COMPUTE_KIND):
            latest[rec.name] = rec  # ordered by version: the last one wins
        return [ComputeTarget._from_spec(workspace, n, dict(r.spec)) for n, r in sorted(latest.items())]

    @staticmethod
    def deserialize(workspace: "Workspace", object_dict: dict[str, Any]) -> "ComputeTarget":
        """A compute target from `serialize()` output (not stored: use create for that)."""
        name = object_dict.get("name")
        if not name or "properties" not in object_dict:
            raise ComputeTargetException("deserialize needs a dict made by ComputeTarget.serialize().")
        spec = dict(object_dict["properties"])
        return ComputeTarget._from_spec(workspace, name, spec)

    def serialize(self) -> dict[str, Any]:
        """The target as a JSON-able dict: id, name, location, tags, properties."""
        return {"id": self.id, "name": self.name, "location": self.location, "tags": dict(self.tags),
                "properties": dict(self._spec)}

    # ------------------------------------------------------------------ state
    def refresh_state(self) -> None:
        """Re-read the target from the workspace."""
        self._bind(self._workspace, self.name, _load_spec(self._workspace, self.name))

    def get_status(self) -> Any:
        """The provisioning state ('Succeeded' once created)."""
        self.refresh_state()
        return self.provisioning_state

    def wait_for_completion(self, show_output: bool = False, min_node_count: int | None = None,
                            timeout_in_minutes: int = 20, is_delete_operation: bool = False) -> None:
        """Wait for creation (or deletion) to finish; local targets are ready at once."""
        if is_delete_operation:
            if show_output:
                print("Deleting...\nSucceededDeleting operation finished, operation \"Succeeded\"", flush=True)
            return
        self.refresh_state()
        if show_output:
            print(f"InProgress.\nSucceededProvisioning operation finished, operation \"{self.provisioning_state}\"",
                  flush=True)
            if min_node_count is not None:
                print(f"Minimum number of nodes requested have been provisioned ({min_node_count})", flush=True)

    def delete(self) -> None:
        """Remove the target from the workspace; runs still waiting for it fail with a clear error."""
        self._workspace._store.delete_asset(self._workspace._ws_id, COMPUTE_KIND, self.name)
        self.provisioning_state = "Deleting"

    def detach(self) -> None:
        """Detach the target: for attached compute only; created compute is removed with delete()."""
        if not self.is_attached:
            raise ComputeTargetException(
                f"Detach is not supported for {self.type} '{self.name}' (it was created, not attached): "
                "use delete() instead.")
        self.delete()

    def get_active_runs(self, type: str | None = None, tags: Any = None, properties: Any = None,
                        status: str | None = None) -> Iterator["Run"]:
        """Runs on this target that have not ended, newest first."""
        from azuremlcore._store.records import TERMINAL_STATUSES
        from azuremlcore.run import Run

        for run in Run.list_by_compute(self, type=type, tags=tags, properties=properties, status=status):
            if run.status not in TERMINAL_STATUSES:
                yield run

    def _update_spec(self, **changes: Any) -> None:
        store, ws_id = self._workspace._store, self._workspace._ws_id
        rec = store.get_asset(ws_id, COMPUTE_KIND, self.name)
        if rec is None:
            raise ComputeTargetException(f"Compute target '{self.name}' no longer exists in this workspace.")
        spec = dict(rec.spec)
        for key, value in changes.items():
            if key == "properties":
                spec["properties"] = {**spec.get("properties", {}), **value}
            else:
                spec[key] = value
        spec.update(_stamp(created=False))
        store.update_asset(ws_id, COMPUTE_KIND, self.name, rec.version, spec=spec)
        self._bind(self._workspace, self.name, spec)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(workspace=Workspace.create(name='{self._workspace.name}', subscription_id="
                f"'{self._workspace.subscription_id}', resource_group='{self._workspace.resource_group}'), "
                f"name={self.name}, id={self.id}, type={self.type}, provisioning_state={self.provisioning_state}, "
                f"location={self.location}, tags={self.tags})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ComputeTarget) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


class AmlCompute(ComputeTarget):
    """A cluster: its runs execute on this machine, at most `max_nodes` at once, the rest Queued."""

    _compute_type_name = "AmlCompute"

    def _bind(self, workspace: "Workspace", name: str, spec: dict[str, Any]) -> None:
        super()._bind(workspace, name, spec)
        props = spec.get("properties", {})
        scale = props.get("scaleSettings", {})
        self.vm_size = props.get("vmSize")
        self.vm_priority = props.get("vmPriority")
        self.scale_settings = dict(scale)
        self.min_nodes = int(scale.get("minNodeCount") or 0)
        self.max_nodes = int(scale.get("maxNodeCount") or 1)
        self.idle_seconds_before_scaledown = scale.get("nodeIdleTimeBeforeScaleDown")
        self.admin_username = props.get("adminUsername")
        self.remote_login_port_public_access = props.get("remoteLoginPortPublicAccess")
        self.identity_type = (props.get("identity") or {}).get("type")
        self.identity_id = (props.get("identity") or {}).get("ids")
        self.status = None

    @staticmethod
    def _spec_from_config(cfg: AmlComputeProvisioningConfiguration) -> dict[str, Any]:
        return {"computeType": "AmlCompute", "computeLocation": cfg.location or "local", "description": cfg.description,
                "tags": dict(cfg.tags), "provisioningState": "Succeeded",
                "properties": {"vmSize": cfg.vm_size, "vmPriority": cfg.vm_priority,
                               "scaleSettings": {"minNodeCount": int(cfg.min_nodes), "maxNodeCount": int(cfg.max_nodes),
                                                 "nodeIdleTimeBeforeScaleDown": f"PT{int(cfg.idle_seconds_before_scaledown)}S"},
                               "adminUsername": cfg.admin_username,
                               "remoteLoginPortPublicAccess": cfg.remote_login_port_public_access,
                               "enableNodePublicIp": cfg.enable_node_public_ip,
                               "subnet": {"vnetResourceGroup": cfg.vnet_resourcegroup_name, "vnet": cfg.vnet_name,
                                          "subnet": cfg.subnet_name} if cfg.vnet_name else None,
                               "identity": {"type": cfg.identity_type, "ids": cfg.identity_id}
                               if cfg.identity_type else None}}

    @staticmethod
    def provisioning_configuration(vm_size: str = "", vm_priority: str = "dedicated", min_nodes: int = 0,
                                   max_nodes: int | None = None, idle_seconds_before_scaledown: int | None = None,
                                   admin_username: str | None = None, admin_user_password: str | None = None,
                                   admin_user_ssh_key: str | None = None, vnet_resourcegroup_name: str | None = None,
                                   vnet_name: str | None = None, subnet_name: str | None = None,
                                   tags: dict | None = None, description: str | None = None,
                                   remote_login_port_public_access: str = "NotSpecified",
                                   identity_type: str | None = None, identity_id: list | None = None,
                                   location: str | None = None,
                                   enable_node_public_ip: bool = True) -> AmlComputeProvisioningConfiguration:
        """Settings for `ComputeTarget.create`: max_nodes (default 4) is how many runs execute at once.

        VM size, priority, networking and admin settings are recorded; runs use this machine's CPUs.
        """
        return AmlComputeProvisioningConfiguration(
            vm_size, vm_priority, min_nodes, max_nodes, idle_seconds_before_scaledown, admin_username,
            admin_user_password, admin_user_ssh_key, vnet_resourcegroup_name, vnet_name, subnet_name, tags,
            description, remote_login_port_public_access, identity_type, identity_id, location, enable_node_public_ip)

    def get(self) -> dict[str, Any]:
        """The target's stored definition (a dict)."""
        self.refresh_state()
        return self.serialize()

    def get_status(self) -> AmlComputeStatus:
        """Nodes busy with runs, scale settings and provisioning state.

        On a server started with a Ray address, the Ray cluster's live nodes and resources.
        """
        from azuremlcore._store import azuremlcore_home

        self.refresh_state()
        ws = self._workspace
        cluster = getattr(ws._store, "compute_cluster", None)
        ray = cluster(ws._ws_id, self.name) if cluster is not None else None
        if ray is not None:  # a server whose clusters are a Ray cluster: its real nodes
            active = [r for r in ws._store.search_runs(ws._ws_id, statuses=["Queued", "Preparing", "Running",
                                                                              "Finalizing", "CancelRequested"])
                      if r.target == self.name]
            queued = len([r for r in active if r.status == "Queued"])
            status = RayComputeStatus(self._spec, ray["nodes"], ray["version"], len(active) - queued, queued)
            status.scale_settings = dict(self.scale_settings)
            status.vm_size = self.vm_size
            self.status = status
            return status
        busy = busy_slots(slot_dir(azuremlcore_home(), ws._ws_id, self.name))
        queued = len([r for r in ws._store.search_runs(ws._ws_id, statuses=["Queued"]) if r.target == self.name])
        self.status = AmlComputeStatus(self._spec, busy, queued)
        return self.status

    def wait_for_completion(self, show_output: bool = False, min_node_count: int | None = None,
                            timeout_in_minutes: int = 25, is_delete_operation: bool = False) -> None:
        """Wait for creation (or deletion) to finish; a local cluster is ready at once."""
        super().wait_for_completion(show_output, min_node_count, timeout_in_minutes, is_delete_operation)
        if not is_delete_operation:
            self.get_status()
            if show_output:
                print("AmlCompute wait for completion finished\n\nMinimum number of nodes requested have been "
                      "provisioned", flush=True)

    def update(self, min_nodes: int | None = None, max_nodes: int | None = None,
               idle_seconds_before_scaledown: int | None = None) -> None:
        """Change the scale settings; a new max_nodes applies to runs that start from now on."""
        scale = dict(self.scale_settings)
        if min_nodes is not None:
            scale["minNodeCount"] = int(min_nodes)
        if max_nodes is not None:
            scale["maxNodeCount"] = int(max_nodes)
        if idle_seconds_before_scaledown is not None:
            scale["nodeIdleTimeBeforeScaleDown"] = f"PT{int(idle_seconds_before_scaledown)}S"
        if scale["maxNodeCount"] < 1 or scale["minNodeCount"] < 0 or scale["minNodeCount"] > scale["maxNodeCount"]:
            raise ComputeTargetException(f"Invalid node counts {scale}: use 0 <= min_nodes <= max_nodes, max_nodes >= 1.")
        self._update_spec(properties={"scaleSettings": scale})

    def list_nodes(self) -> list[dict[str, Any]]:
        """One entry per node busy with a run: nodeId, runId, nodeState."""
        return [{"nodeId": f"node-{i}", "runId": run.id, "nodeState": "running", "privateIpAddress": "127.0.0.1",
                 "publicIpAddress": "127.0.0.1", "port": 22}
                for i, run in enumerate(r for r in self.get_active_runs() if r.status not in ("Queued", "NotStarted"))]

    def add_identity(self, identity_type: str, identity_id: list | None = None) -> None:
        """Record a managed identity (kept with the target; local runs use your own credentials)."""
        self._update_spec(properties={"identity": {"type": identity_type, "ids": identity_id}})

    def remove_identity(self, identity_id: list | None = None) -> None:
        """Remove the recorded identity (or some of its ids)."""
        ident = dict(self._properties.get("identity") or {})
        if identity_id and ident.get("ids"):
            ident["ids"] = [i for i in ident["ids"] if i not in identity_id]
            self._update_spec(properties={"identity": ident})
        else:
            self._update_spec(properties={"identity": None})

    def detach(self) -> None:
        """Not supported for clusters (as in Azure ML): use delete()."""
        raise ComputeTargetException("Detach is not supported for AmlCompute object. Use delete() instead.")

    @staticmethod
    def supported_vmsizes(workspace: "Workspace", location: str | None = None) -> list[dict[str, Any]]:
        """VM size names accepted (all run on this machine)."""
        return [dict(s) for s in _VM_SIZES]

    @staticmethod
    def list_usages(workspace: "Workspace", show_all: bool = False, location: str | None = None) -> list[dict[str, Any]]:
        """Current usage: busy nodes per cluster."""
        return [{"name": {"value": t.name}, "currentValue": t.get_status().current_node_count, "limit": t.max_nodes,
                 "unit": "Count"} for t in ComputeTarget.list(workspace) if isinstance(t, AmlCompute)]

    @staticmethod
    def list_quotas(workspace: "Workspace", location: str | None = None) -> list[dict[str, Any]]:
        """Quotas: none apply on your own machine (an empty list)."""
        return []

    @staticmethod
    def update_quotas(workspace: "Workspace", vm_family: str, limit: int | None = None,
                      location: str | None = None) -> None:
        """No quotas apply on your own machine: accepted and ignored."""


class ComputeInstance(ComputeTarget):
    """A compute instance: runs targeting it execute on this machine without a concurrency limit."""

    _compute_type_name = "ComputeInstance"

    def _bind(self, workspace: "Workspace", name: str, spec: dict[str, Any]) -> None:
        super()._bind(workspace, name, spec)
        props = spec.get("properties", {})
        self.vm_size = props.get("vmSize")
        self.ssh_public_access = props.get("sshPublicAccess", False)
        self.state = props.get("state", "Running")

    @staticmethod
    def _spec_from_config(cfg: ComputeInstanceProvisioningConfiguration) -> dict[str, Any]:
        return {"computeType": "ComputeInstance", "computeLocation": "local", "description": cfg.description,
                "tags": dict(cfg.tags), "provisioningState": "Succeeded",
                "properties": {"vmSize": cfg.vm_size, "sshPublicAccess": bool(cfg.ssh_public_access),
                               "state": "Running"}}

    @staticmethod
    def provisioning_configuration(vm_size: str = "", ssh_public_access: bool = False,
                                   admin_user_ssh_public_key: str | None = None, vnet_resourcegroup_name: str | None = None,
                                   vnet_name: str | None = None, subnet_name: str | None = None,
                                   tags: dict | None = None, description: str | None = None,
                                   assigned_user_object_id: str | None = None, assigned_user_tenant_id: str | None = None,
                                   **kwargs: Any) -> ComputeInstanceProvisioningConfiguration:
        """Settings for `ComputeTarget.create` of an instance (recorded; runs use this machine)."""
        return ComputeInstanceProvisioningConfiguration(
            vm_size, ssh_public_access, admin_user_ssh_public_key, vnet_resourcegroup_name, vnet_name, subnet_name,
            tags, description, assigned_user_object_id, assigned_user_tenant_id, **kwargs)

    def start(self, wait_for_completion: bool = True, show_output: bool = True) -> None:
        """Mark the instance Running."""
        self._update_spec(properties={"state": "Running"})

    def stop(self, wait_for_completion: bool = True, show_output: bool = True) -> None:
        """Mark the instance Stopped (runs still execute: they use this machine)."""
        self._update_spec(properties={"state": "Stopped"})

    def restart(self, wait_for_completion: bool = True, show_output: bool = True) -> None:
        """Mark the instance Running again."""
        self.start()

    def detach(self) -> None:
        """Not supported for instances: use delete()."""
        raise ComputeTargetException("Detach is not supported for ComputeInstance object. Use delete() instead.")


class RayComputeAttachConfiguration(ComputeTargetProvisioningConfiguration):
    """How to reach a Ray cluster (made by `RayCompute.attach_configuration`)."""

    def __init__(self, address: str, shared_file_system: bool | None = None) -> None:
        self._compute_type = RayCompute
        self.address = address
        self.shared_file_system = shared_file_system

    def validate_configuration(self) -> None:
        """Check that the address is a dashboard URL and that a compatible Ray answers there."""
        from azuremlcore._execution.ray_api import RayClusterError, RayJobsClient

        try:
            self._version = RayJobsClient(self.address).version()
        except RayClusterError as exc:
            raise ComputeTargetException(str(exc)) from None


class RayComputeStatus(AmlComputeStatus):
    """A Ray cluster's live state, shaped like `AmlComputeStatus`, plus its resources and Ray version.

    `current_node_count` counts the cluster's live nodes; `resources` sums their CPUs, GPUs and memory;
    `nodes` lists them (node_id, node_ip, state, resources_total, is_head_node).
    """

    def __init__(self, spec: dict[str, Any], nodes: list[dict[str, Any]], version: dict[str, Any], busy: int,
                 queued: int) -> None:
        alive = [n for n in nodes if n.get("state") == "ALIVE"]
        scale = {"minNodeCount": len(alive), "maxNodeCount": len(alive)}
        super().__init__({**spec, "properties": {**spec.get("properties", {}), "scaleSettings": scale}},
                         min(busy, len(alive)), queued)
        self.current_node_count = len(alive)
        self.target_node_count = len(alive)
        running = min(busy, len(alive))
        self.node_state_counts.update({"idleNodeCount": len(alive) - running, "runningNodeCount": running,
                                       "unusableNodeCount": len(nodes) - len(alive)})
        totals: dict[str, float] = {}
        for n in alive:
            for key, value in (n.get("resources_total") or {}).items():
                if key in ("CPU", "GPU", "memory", "object_store_memory"):
                    totals[key] = totals.get(key, 0.0) + float(value)
        self.resources = totals
        self.ray_version = version.get("ray_version")
        self.nodes = nodes
        self.vm_size = "Ray"

    def serialize(self) -> dict[str, Any]:
        """The status as a dict: Azure ML's keys, plus resources, rayVersion and nodes."""
        return {**super().serialize(), "resources": dict(self.resources), "rayVersion": self.ray_version,
                "nodes": [{"nodeId": n.get("node_id"), "nodeIp": n.get("node_ip"), "state": n.get("state"),
                           "isHead": bool(n.get("is_head_node")), "resources": n.get("resources_total")}
                          for n in self.nodes]}


class RayCompute(ComputeTarget):
    """An attached Ray cluster: each run is a Ray job (see docs/compute-ray.md).

    Attach with ``ComputeTarget.attach(ws, name, RayCompute.attach_configuration(address="http://head:8265"))``;
    the address is the dashboard URL (the Jobs API). The cluster's Python needs azuremlcore installed;
    an embedded workspace works only when the cluster shares this machine's file system (a cluster on
    this machine does), otherwise use a workspace server.
    """

    _compute_type_name = "Ray"

    def _bind(self, workspace: "Workspace", name: str, spec: dict[str, Any]) -> None:
        super()._bind(workspace, name, spec)
        props = spec.get("properties", {})
        self.address = props.get("address")
        self.ray_version = props.get("rayVersion")
        self.shared_file_system = props.get("sharedFileSystem")
        self.status: RayComputeStatus | None = None

    @staticmethod
    def attach_configuration(address: str, shared_file_system: bool | None = None) -> RayComputeAttachConfiguration:
        """How to reach the cluster: `address` is its dashboard URL (e.g. http://127.0.0.1:8265).

        `shared_file_system`: whether every node sees this machine's files at the same paths (needed
        to run jobs of an embedded workspace); None guesses True for a head on loopback only.
        """
        from azuremlcore._execution.ray_api import RayClusterError, normalize_address

        try:
            address = normalize_address(address)
        except RayClusterError as exc:
            raise ComputeTargetException(str(exc)) from None
        return RayComputeAttachConfiguration(address, shared_file_system)

    @staticmethod
    def _spec_from_config(cfg: RayComputeAttachConfiguration) -> dict[str, Any]:
        version = getattr(cfg, "_version", None) or {}
        return {"computeType": "Ray", "computeLocation": cfg.address, "description": None, "tags": {},
                "provisioningState": "Succeeded", "isAttached": True,
                "properties": {"address": cfg.address, "sharedFileSystem": cfg.shared_file_system,
                               "rayVersion": version.get("ray_version"), "jobsApiVersion": version.get("version")}}

    def _client(self) -> Any:
        from azuremlcore._execution.ray_api import RayJobsClient

        return RayJobsClient(self.address)

    def get_status(self) -> RayComputeStatus:
        """The cluster's live nodes (`current_node_count`), their states and resources, and the Ray version.

        Raises ComputeTargetException saying what to check when the cluster does not answer.
        """
        from azuremlcore._execution.ray_api import RayClusterError

        self.refresh_state()
        ws = self._workspace
        try:
            client = self._client()
            version, nodes = client.version(), client.nodes()
        except RayClusterError as exc:
            raise ComputeTargetException(str(exc)) from None
        active = [r for r in ws._store.search_runs(ws._ws_id, statuses=["Queued", "Preparing", "Running",
                                                                          "Finalizing", "CancelRequested"])
                  if r.target == self.name]
        queued = len([r for r in active if r.status == "Queued"])
        self.status = RayComputeStatus(self._spec, nodes, version, len(active) - queued, queued)
        return self.status

    def wait_for_completion(self, show_output: bool = False, min_node_count: int | None = None,
                            timeout_in_minutes: int = 20, is_delete_operation: bool = False) -> None:
        """Wait until the cluster answers (with at least `min_node_count` live nodes, if given)."""
        import time

        if is_delete_operation:
            return
        deadline = time.monotonic() + 60 * timeout_in_minutes
        while True:
            try:
                status = self.get_status()
                if min_node_count is None or status.current_node_count >= min_node_count:
                    break
            except ComputeTargetException:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise ComputeTargetException(
                    f"The Ray cluster at {self.address} has {status.current_node_count} live node(s) after "
                    f"{timeout_in_minutes} minutes; {min_node_count} were asked for.")
            time.sleep(1.0)
        if show_output:
            print(f"Ray cluster at {self.address}: Ray {status.ray_version}, {status.current_node_count} node(s), "
                  f"{status.resources.get('CPU', 0):g} CPU(s), {status.resources.get('GPU', 0):g} GPU(s)\n"
                  "SucceededProvisioning operation finished, operation \"Succeeded\"", flush=True)

    def list_nodes(self) -> list[dict[str, Any]]:
        """The cluster's nodes: nodeId, nodeState ('idle' when alive), privateIpAddress, resources."""
        status = self.get_status()
        return [{"nodeId": n.get("node_id"), "nodeState": "idle" if n.get("state") == "ALIVE" else "unusable",
                 "privateIpAddress": n.get("node_ip"), "publicIpAddress": None, "port": None,
                 "resources": n.get("resources_total")} for n in status.nodes]

    def detach(self) -> None:
        """Forget the cluster (the cluster itself keeps running); runs still waiting for it fail."""
        self.delete()


_TYPES: dict[str, type[ComputeTarget]] = {"AmlCompute": AmlCompute, "ComputeInstance": ComputeInstance,
                                          "Ray": RayCompute}


def _load_spec(workspace: "Workspace", name: str) -> dict[str, Any]:
    rec = workspace._store.get_asset(workspace._ws_id, COMPUTE_KIND, name)
    if rec is None:
        raise ComputeTargetException(
            f"ComputeTargetNotFound: Compute Target with name {name} not found in provided workspace "
            f"'{workspace.name}'. Create it with ComputeTarget.create(ws, '{name}', "
            "AmlCompute.provisioning_configuration(max_nodes=...)), or submit to 'local'.")
    return dict(rec.spec)


def _stamp(created: bool) -> dict[str, str]:
    from azuremlcore._timeutil import iso, now_ms

    t = iso(now_ms()) or ""
    return {"createdOn": t, "modifiedOn": t} if created else {"modifiedOn": t}


# ---------------------------------------------------------------------- Azure-only kinds
# Imported by setup scripts and notebooks even where unused: they import fine, and any use says what to do here.
def _azure_only(name: str, what: str, advice: str = "") -> type[ComputeTarget]:
    from azuremlcore._azure_only import RUN_HERE, azure_only

    return azure_only(name, ComputeTarget, ComputeTargetException, what, advice or RUN_HERE, __name__)


AksCompute = _azure_only("AksCompute", "Azure Kubernetes Service for web services",
                         "deploy models on this machine with Model.deploy(ws, name, models, inference_config, "
                         "LocalWebservice.deploy_configuration(port=...)); train on compute_target='local' or an "
                         "AmlCompute cluster.")
KubernetesCompute = _azure_only("KubernetesCompute", "an attached Azure Arc Kubernetes cluster")
DatabricksCompute = _azure_only("DatabricksCompute", "an Azure Databricks workspace")
HDInsightCompute = _azure_only("HDInsightCompute", "an Azure HDInsight cluster")
SynapseCompute = _azure_only("SynapseCompute", "an Azure Synapse Spark pool")
RemoteCompute = _azure_only("RemoteCompute", "an attached virtual machine over SSH")
AdlaCompute = _azure_only("AdlaCompute", "Azure Data Lake Analytics")
BatchCompute = _azure_only("BatchCompute", "Azure Batch")
DataFactoryCompute = _azure_only("DataFactoryCompute", "Azure Data Factory")
KustoCompute = _azure_only("KustoCompute", "Azure Data Explorer")
DsvmCompute = _azure_only("DsvmCompute", "a Data Science Virtual Machine, deprecated in the real SDK too")

__all__ += ["AksCompute", "KubernetesCompute", "DatabricksCompute", "HDInsightCompute", "SynapseCompute",
            "RemoteCompute", "AdlaCompute", "BatchCompute", "DataFactoryCompute", "KustoCompute", "DsvmCompute"]
