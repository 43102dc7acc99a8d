"""The client side of runs on a workspace server: ask the server to start or cancel a submitted run.

`submit.submit` validates, snapshots and creates the run exactly as for an embedded workspace
(the snapshot is uploaded to the server's snapshots container); then, instead of starting a
local runner, `ServerExecutor.start` asks the server to run it on its own host. The script there
logs back over HTTP with a short-lived token scoped to the run.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from azuremlcore._store.handle import WorkspaceHandle


def _run_path(ws: "WorkspaceHandle", run_id: str) -> str:
    return f"{ws.store.ws_path(ws.id)}/runs/{quote(run_id, safe='')}"  # type: ignore[attr-defined]


def start_on_server(ws: "WorkspaceHandle", run_id: str) -> None:
    """Have the server start the run's runner (needs Contributor on the workspace)."""
    ws.store.http.json("POST", _run_path(ws, run_id) + "/start")  # type: ignore[attr-defined]


def cancel_on_server(ws: "WorkspaceHandle", run_id: str) -> None:
    """Have the server stop the run's process tree; returns once the run is recorded Canceled (or ended)."""
    ws.store.http.json("POST", _run_path(ws, run_id) + "/cancel")  # type: ignore[attr-defined]


class ServerExecutor:
    """Runs of a server workspace: the server starts and stops them on its own host."""

    def start(self, ws: "WorkspaceHandle", run_id: str) -> None:
        """Ask the server to start the run."""
        start_on_server(ws, run_id)

    def cancel(self, ws: "WorkspaceHandle", run_id: str) -> None:
        """Ask the server to stop the run."""
        cancel_on_server(ws, run_id)
