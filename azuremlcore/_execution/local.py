"""Runs on this machine: a detached runner process per run (`python -m azuremlcore._execution.runner`).

The runner starts in a new session, so the run outlives the notebook kernel that submitted it; it
opens the workspace by its coordinates and walks the run to its end (see runner.py). Cancel asks it
to stop (SIGTERM) and records the outcome if it is gone (see control.py).
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azuremlcore._store.handle import WorkspaceHandle

RUNNER_LOG = "azureml-logs/runner_log.txt"
# The user's own PYTHONPATH, restored for the script (the runner's has this installation's root in front).
USER_PYTHONPATH = "_AZUREMLCORE_USER_PYTHONPATH"


def working_root() -> Path:
    """Where runs' working folders are made: $AZUREMLCORE_HOME/work/<run id>."""
    from azuremlcore._store import azuremlcore_home

    return azuremlcore_home() / "work"


def launch(ws: "WorkspaceHandle", run_id: str) -> None:
    """Start the runner of an embedded workspace's run in a new session (it outlives this process); record its pid."""
    from azuremlcore._store import azuremlcore_home
    from azuremlcore._store.artifacts import FileArtifactStore
    from azuremlcore._tracking import run_env

    env = dict(os.environ)
    # A notebook kernel's inline plotting backend exists only in the kernel's env: a job importing
    # matplotlib would fail on it ("not a valid value for backend"), as it never would on Azure.
    if env.get("MPLBACKEND", "").startswith("module://matplotlib_inline"):
        del env["MPLBACKEND"]
    env[run_env.HOME] = str(azuremlcore_home())
    env["PYTHONUNBUFFERED"] = "1"
    env[USER_PYTHONPATH] = os.environ.get("PYTHONPATH", "")
    # The runner imports this very installation, even when it is not installed (a source tree on sys.path).
    pkg_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if isinstance(ws.artifacts, FileArtifactStore):  # the runner's own log is a run file
        log_path = ws.artifacts.local_path(ws.run_container(run_id), RUNNER_LOG)
    else:  # artifacts elsewhere: keep it beside the run's local working folder
        log_path = working_root() / f"{run_id}.runner.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "azuremlcore._execution.runner", "--run-id", run_id,
           "--subscription-id", ws.subscription_id, "--resource-group", ws.resource_group, "--workspace-name", ws.name]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(azuremlcore_home()),
            start_new_session=True, close_fds=True)
    ws.store.update_run(run_id, details={"_runner": {"pid": proc.pid, "pgid": proc.pid}})
    # Reap the runner when it ends, so its pid does not linger as a zombie while this process lives.
    threading.Thread(target=proc.wait, name=f"azuremlcore-reap-{proc.pid}", daemon=True).start()


class LocalExecutor:
    """Runs on this machine, each in its own detached runner process."""

    def start(self, ws: "WorkspaceHandle", run_id: str) -> None:
        """Launch the run's runner."""
        launch(ws, run_id)

    def cancel(self, ws: "WorkspaceHandle", run_id: str) -> None:
        """Stop the runner and the script's process tree; record Canceled if the runner cannot."""
        from azuremlcore._execution.control import cancel_run

        cancel_run(ws.store, run_id)
