"""Node slots of a local cluster: a run holds one slot (an flock on a file) while it runs.

A cluster named N in workspace W with max_nodes=k has k slot files under
``$AZUREMLCORE_HOME/compute/<W id>/<N>/``. A runner holds an exclusive flock on one of them
from Preparing to its end; the kernel drops the lock when the runner dies, so a crashed runner
never leaks a node. Waiting runners take turns oldest-first (see `is_my_turn`).
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azuremlcore._store.protocol import WorkspaceStore

COMPUTE_KIND = "computetarget"
LOCAL_TARGETS = ("local", "")
# Compute types whose capacity is max_nodes runs at once; other types (instances) run without a limit.
CLUSTER_TYPES = ("AmlCompute",)


def slot_dir(home: Path, ws_id: str, name: str) -> Path:
    """The folder that holds a cluster's slot files."""
    return Path(home) / "compute" / ws_id / name


def compute_spec(store: "WorkspaceStore", ws_id: str, name: str) -> dict[str, Any] | None:
    """The stored spec of a compute target, or None when there is no such target."""
    rec = store.get_asset(ws_id, COMPUTE_KIND, name)
    return dict(rec.spec) if rec is not None else None


def capacity(spec: dict[str, Any]) -> int | None:
    """How many runs a target runs at once (None: no limit)."""
    if spec.get("computeType") not in CLUSTER_TYPES:
        return None
    return max(1, int(spec.get("properties", {}).get("scaleSettings", {}).get("maxNodeCount") or 1))


def try_acquire(folder: Path, slots: int) -> tuple[int, IO[bytes]] | None:
    """Lock a free slot without waiting: (slot index, open file holding the lock), or None when all are busy."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(slots):
        f = open(folder / f"slot-{i}.lock", "ab")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        return i, f
    return None


def busy_slots(folder: Path) -> int:
    """How many slot files are locked right now (nodes busy with a run)."""
    busy = 0
    if not folder.is_dir():
        return 0
    for p in folder.glob("slot-*.lock"):
        with open(p, "ab") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                busy += 1
            else:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return busy


def kill_run_groups(runner: dict[str, Any]) -> None:
    """SIGKILL the process groups a run's runner recorded (the script's, then the runner's), where still alive."""
    import signal

    for key in ("scriptPgid", "pgid"):
        pgid = runner.get(key)
        if pgid and pid_alive(pgid):
            try:
                os.killpg(int(pgid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def pid_alive(pid: int | None) -> bool:
    """Whether a process exists and is not a zombie."""
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return True


def is_my_turn(store: "WorkspaceStore", ws_id: str, target: str, run_id: str) -> bool:
    """Whether run_id is the oldest run waiting (Queued, runner alive) for this target: FIFO among waiters."""
    waiting = []
    for rec in store.search_runs(ws_id, statuses=["Queued"], lifecycle_stage=None):
        if rec.target != target or not rec.details.get("_waitingForNode"):
            continue
        if rec.id != run_id and not pid_alive((rec.details.get("_runner") or {}).get("pid")):
            continue
        waiting.append((rec.created_time, rec.number, rec.id))
    return not waiting or min(waiting)[2] == run_id
