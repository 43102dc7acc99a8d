"""Uploading spools left on disk: offline runs, and runs whose process ended before the server answered.

`sync` is `aml sync`; `adopt` is the cheap check the next SDK process makes when it opens a
workspace on a server: spools of that server that no live process holds are replayed in the
background. Both only send what the target has not acknowledged, so running them twice (or
side by side with each other) uploads nothing twice.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore._tracking.spool import find_spools, spool_root
from azuremlcore._tracking.spool_replay import SpoolOffline, replay, target_of

if TYPE_CHECKING:
    from azuremlcore._store.handle import WorkspaceHandle

_log = logging.getLogger(__name__)


def sync(ws: "WorkspaceHandle", experiment_name: str | None, roots: list[Path]) -> list[dict[str, Any]]:
    """Upload every spool under `roots` that belongs to `ws` (or is an offline run); one row per spool.

    Offline runs become runs of `experiment_name` (created when missing); spools of runs on another
    server are left alone; spools a live process still writes are skipped.
    """
    experiment_id: str | None = None
    rows: list[dict[str, Any]] = []
    for root in roots:
        for spool in find_spools(root):
            header = spool.header()
            row: dict[str, Any] = {"runId": header.get("run_id"), "spool": str(spool.path), "points": 0,
                                   "attributes": 0, "files": 0, "status": None, "result": ""}
            rows.append(row)
            if not header:
                row["result"] = "empty"
                continue
            if not header.get("offline") and not _run_of(ws, header["run_id"]):
                # Not by endpoint: a job may have reached the same server by another address (a proxy).
                row["result"] = f"skipped: not a run of this workspace (logged to {header.get('endpoint')})"
                continue
            if not spool.abandoned():
                row["result"] = "skipped: a running process still writes it"
                continue
            try:
                if header.get("offline") and experiment_id is None:
                    if not experiment_name:
                        row["result"] = "skipped: an offline run needs an experiment (-e NAME)"
                        continue
                    experiment_id = ws.store.get_or_create_experiment(ws.id, experiment_name).id
                out = replay(spool, ws.store, ws.artifacts, workspace_id=ws.id, experiment_id=experiment_id)
                row.update(points=out.points, attributes=out.attributes, files=out.files, status=out.status,
                           result=("uploaded" if out.points or out.attributes or out.files or out.status
                                   else "up to date") + (f" ({len(out.errors)} refused)" if out.errors else ""))
            except SpoolOffline as exc:
                row["result"] = f"unreachable, try again: {exc}"
            finally:
                spool.release()
    return rows


def _run_of(ws: "WorkspaceHandle", run_id: str) -> bool:
    from azuremlcore._store.errors import NotFoundError

    try:
        return ws.store.get_run(run_id).workspace_id == ws.id
    except NotFoundError:
        return False


def _adopt(ws: "WorkspaceHandle", root: Path) -> None:
    target = target_of(ws.store)
    for spool in find_spools(root):
        try:
            header = spool.header()
            if header.get("offline") or header.get("endpoint") != target or not spool.abandoned():
                continue
            try:
                out = replay(spool, ws.store, ws.artifacts, skip_refused=False)
                if out.points or out.attributes or out.files:
                    _log.warning("azuremlcore: uploaded what run %s had spooled (%d values, %d attributes, %d files).",
                                 out.run_id, out.points, out.attributes, out.files)
            finally:
                spool.release()
        except Exception as exc:  # noqa: BLE001 - a background courtesy: never disturbs the process
            _log.debug("azuremlcore: spool %s not replayed: %s", spool.path, exc)
            return


_adopted: set[str] = set()
_adopted_lock = threading.Lock()
_adopting = True


def no_adopt() -> None:
    """Replay no spools in the background in this process (`aml sync` replays them itself, in the open)."""
    global _adopting
    _adopting = False


def adopt(ws: "WorkspaceHandle") -> None:
    """Replay, in a background thread, the abandoned spools of this workspace's server (once per process)."""
    import os

    from azuremlcore._tracking import run_env

    if not _adopting or os.environ.get(run_env.RUN_TOKEN):  # a job's token may write only its own run
        return
    root = spool_root()
    key = f"{target_of(ws.store)}|{root}"
    with _adopted_lock:
        if key in _adopted:
            return
        _adopted.add(key)
    if not root.is_dir():
        return
    threading.Thread(target=_adopt, args=(ws, root), name="azuremlcore-spool-adopt", daemon=True).start()
