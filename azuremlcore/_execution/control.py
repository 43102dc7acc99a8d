"""Cancel a submitted run: ask its runner to stop (SIGTERM), or record Canceled when the runner is gone."""
from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

from azuremlcore._execution.slots import pid_alive
from azuremlcore._store.records import TERMINAL_STATUSES

if TYPE_CHECKING:
    from azuremlcore.run import Run

# The runner gives the script 5 s to exit after SIGTERM, then kills it; allow for that and the bookkeeping.
WAIT_SECONDS = 15.0


def cancel_run(run: "Run") -> None:
    """Mark the run CancelRequested, stop its runner and script tree, and wait until it is recorded Canceled."""
    store = run._store
    rec = store.get_run(run.id)
    if rec.status in TERMINAL_STATUSES:
        return
    store.update_run(run.id, status="CancelRequested")
    runner = rec.details.get("_runner") or {}
    pid = runner.get("pid")
    if pid_alive(pid):
        try:
            os.kill(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and pid_alive(pid):
            if store.get_run(run.id).status in TERMINAL_STATUSES:
                return
            time.sleep(0.05)
    # The runner is gone (or did not answer): end what it left behind and record the outcome ourselves.
    runner = store.get_run(run.id).details.get("_runner") or {}
    for key in ("scriptPgid", "pgid"):
        pgid = runner.get(key)
        if pgid and pid_alive(pgid):
            try:
                os.killpg(int(pgid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    rec = store.get_run(run.id)
    if rec.status not in TERMINAL_STATUSES:
        from azuremlcore._timeutil import now_ms

        t = now_ms()
        store.update_run(run.id, status="Canceled", end_time=t, **({"start_time": t} if rec.start_time is None else {}))
