"""Cancel a submitted run: ask its runner to stop (SIGTERM), or record Canceled when the runner is gone."""
from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

from azuremlcore._execution.slots import kill_run_groups, pid_alive
from azuremlcore._store.records import TERMINAL_STATUSES

if TYPE_CHECKING:
    from azuremlcore._store.protocol import WorkspaceStore
    from azuremlcore._store.records import RunRecord

# The runner gives the script 5 s to exit after SIGTERM, then kills it; allow for that and the bookkeeping.
WAIT_SECONDS = 15.0


def cancel_run(store: "WorkspaceStore", run_id: str) -> None:
    """Mark the run CancelRequested, stop its runner and script tree, and wait until it is recorded Canceled."""
    rec = store.get_run(run_id)
    if rec.status in TERMINAL_STATUSES:
        return
    store.update_run(run_id, status="CancelRequested")
    runner = rec.details.get("_runner") or {}
    pid = runner.get("pid")
    if pid_alive(pid):
        try:
            os.kill(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and pid_alive(pid):
            if store.get_run(run_id).status in TERMINAL_STATUSES:
                return
            time.sleep(0.05)
    # The runner is gone (or did not answer): end what it left behind and record the outcome ourselves.
    kill_run_groups(store.get_run(run_id).details.get("_runner") or {})
    rec = store.get_run(run_id)
    if rec.status not in TERMINAL_STATUSES:
        from azuremlcore._timeutil import now_ms

        t = now_ms()
        store.update_run(run_id, status="Canceled", end_time=t, **({"start_time": t} if rec.start_time is None else {}))


def record_if_runner_died(store: "WorkspaceStore", rec: "RunRecord") -> "RunRecord":
    """If a local run's runner process is gone without recording an outcome, record it Failed and say why.

    A runner killed outright (out of memory, SIGKILL, a reboot) cannot write its own result; without
    this check such a run would show Running forever and `wait_for_completion` would never return.
    """
    import socket

    runner = rec.details.get("_runner") or {}
    pid = runner.get("pid")
    if rec.status in TERMINAL_STATUSES or not pid or runner.get("host", socket.gethostname()) != socket.gethostname():
        return rec
    if pid_alive(pid):
        return rec
    rec = store.get_run(rec.id)  # it may have finished between our two reads
    if rec.status in TERMINAL_STATUSES:
        return rec
    # Its script, in a process group of its own, outlives it (found by hand: still sleeping after the run showed
    # Failed, holding what it held); nobody reads its output any more.
    kill_run_groups(rec.details.get("_runner") or runner)
    from azuremlcore._timeutil import now_ms

    if rec.status == "CancelRequested":
        # It was asked to stop: a runner that died of the SIGTERM before it could record Canceled (a run
        # cancelled while its runner was still starting) was cancelled, not killed by accident.
        t = now_ms()
        return store.update_run(rec.id, status="Canceled", end_time=t, **({"start_time": t} if rec.start_time is None
                                                                           else {}))
    message = (f"The run's runner process (pid {pid}) ended without recording a result: it was killed, ran out "
               "of memory, or the machine restarted. Resubmit the run; its log so far is in user_logs/std_log.txt.")
    return store.update_run(rec.id, status="Failed", end_time=now_ms(),
                            details={"error": {"error": {"code": "RunnerDied", "message": message}}})
