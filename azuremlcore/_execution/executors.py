"""Where submitted runs execute: one small interface, the executor, chosen by the run's compute target.

An executor starts a run that `submit` has created and queued (returning at once: the run goes on
in the background) and cancels one. Today: `LocalExecutor` (a detached runner process on this
machine, for 'local' and the local clusters and instances) and `ServerExecutor` (the workspace's
server runs every job of a server workspace on its own host). A new kind of compute (Ray next)
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


# The computeType of a target's spec (LOCAL for the target 'local') -> the executor of its runs.
LOCAL = "local"
_BY_COMPUTE_TYPE: dict[str, Callable[[], Executor]] = {
    LOCAL: _local,
    "AmlCompute": _local,  # a cluster's nodes are slots on this machine (see slots.py)
    "ComputeInstance": _local,
}


def executor_for(ws: "WorkspaceHandle", target: str | None) -> Executor:
    """The executor of runs on `target` in workspace `ws` (a server workspace's runs all go to its server)."""
    if ws.endpoint:
        return _server()
    spec = None if (target or LOCAL) in LOCAL_TARGETS else compute_spec(ws.store, ws.id, str(target))
    kind = LOCAL if spec is None else str(spec.get("computeType") or LOCAL)
    return _BY_COMPUTE_TYPE.get(kind, _local)()
