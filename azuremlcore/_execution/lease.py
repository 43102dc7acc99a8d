"""Run leases: a runner renews its run's lease while it lives; a run whose lease lapses is marked Failed.

A runner killed outright (SIGKILL, out of memory, a machine that stopped) cannot record its end, and
after a server restart nobody is waiting on its process any more. So the runner writes
``details["_lease"] = {"expires": <ms>, ...}`` every third of the lease (`Lease`), and whoever watches
runs (the server, every few seconds and when it starts; `Run.get_status` on an embedded workspace)
calls `reap`: a run still active whose lease has lapsed, or whose runner process on this host is gone,
is marked Failed with a message saying so. The lease length is `AZUREMLCORE_LEASE_SECONDS` (default 60)
in the runner's environment.
"""
from __future__ import annotations

import os
import signal
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from azuremlcore._store.records import TERMINAL_STATUSES
from azuremlcore._tracking.run_records import SCRIPT_RUN_TYPE

if TYPE_CHECKING:
    from azuremlcore._store.protocol import WorkspaceStore
    from azuremlcore._store.records import RunRecord

LEASE_KEY = "_lease"
LEASE_ENV = "AZUREMLCORE_LEASE_SECONDS"
LAPSED_CODE = "RunnerLeaseExpired"
_DEFAULT_SECONDS = 60.0


def lease_seconds() -> float:
    """The lease length a runner takes: AZUREMLCORE_LEASE_SECONDS, else 60 (at least 1)."""
    try:
        return max(1.0, float(os.environ.get(LEASE_ENV, _DEFAULT_SECONDS)))
    except ValueError:
        return _DEFAULT_SECONDS


class Lease:
    """The runner's side: renews the run's lease in a daemon thread from `start()` until `stop()`.

    If the run was ended meanwhile because the lease lapsed (the runner was stalled, not dead), the
    runner is told to stop with SIGTERM, as a cancel would: its script is stopped and nothing else written.
    """

    def __init__(self, store: "WorkspaceStore", run_id: str, seconds: float | None = None) -> None:
        self.store, self.run_id = store, run_id
        self.seconds = seconds or lease_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="azuremlcore-run-lease", daemon=True)

    def renew(self) -> None:
        """Extend the lease by its length from now (one small update of the run's details)."""
        now = int(time.time() * 1000)
        rec = self.store.update_run(self.run_id, details={LEASE_KEY: {
            "expires": now + int(self.seconds * 1000), "renewed": now, "seconds": self.seconds,
            "holder": f"{socket.gethostname()}:{os.getpid()}"}})
        error = ((rec.details.get("error") or {}).get("error") or {}).get("code")
        if rec.status in TERMINAL_STATUSES and error == LAPSED_CODE:
            os.kill(os.getpid(), signal.SIGTERM)

    def _loop(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self.renew()
            except Exception as exc:  # noqa: BLE001 - a missed renewal is retried; the lease has slack for two
                print(f"run lease renewal failed: {exc}", flush=True)

    def start(self) -> "Lease":
        """Take the lease now and keep renewing it in the background."""
        self.renew()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop renewing (the run has ended; its last lease simply expires)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def lapsed(rec: "RunRecord", now_ms: int | None = None) -> bool:
    """Whether an active run holds a lease that has expired."""
    lease = rec.details.get(LEASE_KEY) or {}
    expires = lease.get("expires")
    if rec.status in TERMINAL_STATUSES or not isinstance(expires, int):
        return False
    return expires < (now_ms if now_ms is not None else int(time.time() * 1000))


def reap(store: "WorkspaceStore", rec: "RunRecord") -> "RunRecord":
    """Mark an active run Failed if its lease lapsed or its runner on this host is gone; else return it as is."""
    from azuremlcore._execution.control import record_if_runner_died

    if "_ray" in rec.details:  # a Ray job that ended without its driver saying so (environment failed, stopped)
        from azuremlcore._execution.ray import reconcile

        rec = reconcile(store, rec)
    rec = record_if_runner_died(store, rec)
    if not lapsed(rec):
        return rec
    rec = store.get_run(rec.id)  # it may have ended, or renewed, between our reads
    if not lapsed(rec):
        return rec
    lease = rec.details[LEASE_KEY]
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(lease["expires"] / 1000))
    message = (f"The run's runner ({lease.get('holder', 'unknown')}) stopped renewing its lease, which expired at "
               f"{when}: its process was killed or stalled, or its machine stopped. Resubmit the run; its log "
               "so far is in user_logs/std_log.txt.")
    _stop_leftovers(rec.details.get("_runner") or {})
    now = int(time.time() * 1000)
    fields: dict[str, Any] = {"status": "Failed", "end_time": now,
                              "details": {"error": {"error": {"code": LAPSED_CODE, "message": message}}}}
    if rec.start_time is None:
        fields["start_time"] = now
    return store.update_run(rec.id, **fields)


def _stop_leftovers(runner: dict[str, Any]) -> None:
    # A script whose runner is gone would run on unobserved, holding a node: stop it when it is here.
    from azuremlcore._execution.slots import kill_run_groups

    if runner.get("host") != socket.gethostname():
        return
    kill_run_groups(runner)


def sweep(store: Any, run_type: str = SCRIPT_RUN_TYPE) -> list[str]:
    """Reap every active submitted run of every workspace in a SQL store; returns the ids of runs it marked Failed.

    Only submitted runs (`run_type`, by default the script runs `Experiment.submit` makes) have runners. MLflow's
    and `start_logging`'s runs are left out in the query: a server holding 5,000 of them still Running (clients
    that never ended theirs) read them all with their attributes at every sweep, 0.2 s of CPU every 15 s.
    """
    from azuremlcore._store.records import RUN_STATUSES

    active = [s for s in RUN_STATUSES if s not in TERMINAL_STATUSES]
    failed = []
    for ws in store.find_workspace(None, None, None):
        for rec in store.search_runs(ws.id, statuses=active, run_type=run_type, lifecycle_stage=None):
            if LEASE_KEY not in rec.details and "_runner" not in rec.details and "_ray" not in rec.details:
                continue
            if reap(store, rec).status == "Failed":
                failed.append(rec.id)
    return failed
