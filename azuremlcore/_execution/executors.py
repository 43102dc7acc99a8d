"""Where submitted runs execute: one small interface, the executor, chosen by the run's compute target.

An executor starts a run that `submit` has created and queued (returning at once: the run goes on
in the background) and cancels one. Today: `LocalExecutor` (a detached runner process on this
machine, for 'local' and the local clusters and instances) and `ServerExecutor` (the workspace's
server runs every job of a server workspace on its own host) and `RayExecutor` (a Ray job on an attached
cluster, submitted by the client for embedded and server workspaces alike). A new kind of compute
is a module here with an executor, and one line in `_BY_COMPUTE_TYPE`; no public module changes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol

from azuremlcore._execution.slots import LOCAL_TARGETS, compute_spec

if TYPE_CHECKING:
    from azuremlcore._store.handle import WorkspaceHandle


class Executor(Protocol):
    """Runs queued runs somewhere and stops them."""

    def start(self, ws: "WorkspaceHandle", run_id: str) -> None:
        """Start the queued run (its record holds the definition and snapshot); returns at once."""

    def cancel(self, ws: "WorkspaceHandle", run_id: str) -> None:
        """Stop the run; returns once it is recorded as ended (Canceled, or the end it reached meanwhile)."""


def _local() -> Executor:
    from azuremlcore._execution.local import LocalExecutor

    return LocalExecutor()


def _server() -> Executor:
    from azuremlcore._execution.remote import ServerExecutor

    return ServerExecutor()


def _ray() -> Executor:
    from azuremlcore._execution.ray import RayExecutor

    return RayExecutor()


# The computeType of a target's spec (LOCAL for the target 'local') -> the executor of its runs.
LOCAL = "local"
_BY_COMPUTE_TYPE: dict[str, Callable[[], Executor]] = {
    LOCAL: _local,
    "AmlCompute": _local,  # a cluster's nodes are slots on this machine (see slots.py)
    "ComputeInstance": _local,
    "Ray": _ray,  # an attached Ray cluster (ray.py), also from a server workspace's client
}
# Compute types whose runs the submitting client starts itself, even in a server workspace.
CLIENT_SUBMITTED = ("Ray",)


def executor_for(ws: "WorkspaceHandle", target: str | None) -> Executor:
    """The executor of runs on `target` in workspace `ws` (a server workspace's runs all go to its server)."""
    spec = None if (target or LOCAL) in LOCAL_TARGETS else compute_spec(ws.store, ws.id, str(target))
    kind = LOCAL if spec is None else str(spec.get("computeType") or LOCAL)
    if ws.endpoint and kind not in CLIENT_SUBMITTED:
        return _server()
    return _BY_COMPUTE_TYPE.get(kind, _local)()
