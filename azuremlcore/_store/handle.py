"""A workspace as the machinery sees it: its record with the store and artifact store that hold it.

The public `Workspace` wraps one of these (`Workspace._handle`); the runner, the data and serving
helpers take one, so nothing below the public layer needs the `Workspace` class. Opening one by
coordinates (embedded, or on a server) is `azuremlcore._client.open_workspace`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azuremlcore._store.protocol import WorkspaceStore
    from azuremlcore._store.records import WorkspaceRecord


@dataclass(frozen=True)
class WorkspaceHandle:
    """One workspace: `record`, the `store` and `artifacts` it lives in, and its server's `endpoint` (None: embedded).

    `artifacts` is a FileArtifactStore (embedded, or the server's own) or the REST artifact store of a server.
    """

    store: "WorkspaceStore"
    artifacts: Any
    record: "WorkspaceRecord"
    endpoint: str | None = None

    @property
    def id(self) -> str:
        """The workspace id."""
        return self.record.id

    @property
    def name(self) -> str:
        """The workspace name."""
        return self.record.name

    @property
    def subscription_id(self) -> str:
        """The subscription id the workspace is keyed by."""
        return self.record.subscription_id

    @property
    def resource_group(self) -> str:
        """The resource group the workspace is keyed by."""
        return self.record.resource_group

    def run_container(self, run_id: str) -> str:
        """The artifact container of a run's files."""
        return f"{self.id}/runs/{run_id}"

    @property
    def snapshots(self) -> str:
        """The artifact container of source snapshots."""
        return f"{self.id}/snapshots"
