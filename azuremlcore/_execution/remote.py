"""The client side of runs on a workspace server: ask the server to start or cancel a submitted run.

`submit.submit_config` validates, snapshots and creates the run exactly as for an embedded
workspace (the snapshot is uploaded to the server's snapshots container); then, instead of
starting a local runner, `start_on_server` asks the server to run it on its own host. The
script there logs back over HTTP with a short-lived token scoped to the run.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from azuremlcore.run import Run


def _run_path(run: "Run") -> str:
    ws = run.experiment.workspace
    return f"{ws._store.ws_path(ws._ws_id)}/runs/{quote(run.id, safe='')}"  # type: ignore[attr-defined]


def start_on_server(run: "Run") -> None:
    """Have the server start the run's runner (needs Contributor on the workspace)."""
    run._store.http.json("POST", _run_path(run) + "/start")  # type: ignore[attr-defined]


def cancel_on_server(run: "Run") -> None:
    """Have the server stop the run's process tree; returns once the run is recorded Canceled (or ended)."""
    run._store.http.json("POST", _run_path(run) + "/cancel")  # type: ignore[attr-defined]
