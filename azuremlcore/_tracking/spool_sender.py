"""The spools of one workspace store's runs in this process, and the thread that sends them.

Whoever logs (the metrics writer thread, `upload_file` when the server is unreachable) appends a
record to the run's spool and returns; the sender thread replays what the store has not
acknowledged, at once while the store answers, and every `RETRY_MIN_S`..`RETRY_MAX_S` (doubling)
while it does not. Memory stays bounded whatever the outage: unsent records are on disk only.
At exit the sender gets up to `$AZUREMLCORE_SPOOL_EXIT_WAIT_S` (default 30 s) to send what is
left, and deletes the spools it sent completely; the rest stays for `aml sync` or the next SDK
process (`spool_sync.adopt`).
"""
from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
import weakref
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore._tracking.spool import Spool, spool_root
from azuremlcore._tracking.spool_replay import SpoolOffline, replay, target_of

if TYPE_CHECKING:
    from azuremlcore._store.artifacts import FileArtifactStore
    from azuremlcore._store.protocol import WorkspaceStore
    from azuremlcore._tracking.metrics_writer import MetricRow

_log = logging.getLogger(__name__)

RETRY_MIN_S = 0.5
RETRY_MAX_S = 5.0
EXIT_WAIT_ENV = "AZUREMLCORE_SPOOL_EXIT_WAIT_S"


class SpoolSender:
    """Appends a store's run records to their spools and sends them from a daemon thread."""

    def __init__(self, store: "WorkspaceStore", artifacts: "FileArtifactStore | None" = None,
                 root: Path | None = None) -> None:
        self._store = store
        self._artifacts = artifacts
        self._root = root or spool_root()
        self._reset()
        _every_sender.add(self)

    def _reset(self) -> None:
        # Also in a forked child: the parent's spools are the parent's to send.
        self._spools: dict[str, Spool] = {}
        self._cond = threading.Condition()
        self._written = 0  # records appended
        self._sent = 0  # records appended before the last send pass that reached the end
        self._settled = 0  # records appended before the last send pass that ended (sent, or found the store down)
        self._offline = False
        self._retry_at = 0.0
        self._backoff = RETRY_MIN_S
        self._errors: list[str] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def idle(self) -> bool:
        """Whether everything spooled so far was sent."""
        return self._sent >= self._written

    @property
    def offline(self) -> bool:
        """Whether the last attempt found the store unreachable."""
        return self._offline

    # ------------------------------------------------------------------ appending
    def spool_for(self, run_id: str) -> Spool:
        """This process's spool of a run (created on first use)."""
        spool = self._spools.get(run_id)
        if spool is None:
            header = {"run_id": run_id, "endpoint": target_of(self._store), "host": socket.gethostname(),
                      "pid": os.getpid(), "created_time": int(time.time() * 1000)}
            spool = self._spools[run_id] = Spool(self._root / run_id, header=header)
        return spool

    def append_metrics(self, batch: "list[MetricRow]") -> None:
        """Spool a batch of points (one columnar record per run, fsynced) and wake the sender."""
        run_ids = set(map(itemgetter(0), batch))
        if len(run_ids) == 1:  # a loop logging one run: no pass over the points in Python
            by_run: dict[str, list[MetricRow]] = {run_ids.pop(): batch}
        else:
            by_run = {}
            for row in batch:
                by_run.setdefault(row[0], []).append(row)
        with self._cond:
            spools = [self.spool_for(run_id) for run_id in by_run]
        for spool, rows in zip(spools, by_run.values()):
            spool.append_metrics(rows)
            spool.sync()
        self._added(len(by_run))

    def append(self, run_id: str, record: dict[str, Any], sync: bool = True) -> None:
        """Spool one record of a run and wake the sender; fsynced now, or (`sync=False`) with the
        next records or before they are sent, whichever comes first."""
        with self._cond:
            spool = self.spool_for(run_id)
        spool.append(record)
        if sync:
            spool.sync()
        self._added(1)

    def sync_all(self) -> None:
        """fsync every spool of this sender."""
        with self._cond:
            spools = list(self._spools.values())
        for spool in spools:
            spool.sync()

    def _added(self, count: int) -> None:
        with self._cond:
            self._written += count
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="azuremlcore-spool", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    # ------------------------------------------------------------------ sending
    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    wait = self._retry_at - time.monotonic()
                    if self._written > self._sent and wait <= 0:
                        break
                    self._cond.wait(wait if self._written > self._sent else None)
                target = self._written
                spools = list(self._spools.values())
            for spool in spools:  # what is sent is durable first (records appended without fsync)
                spool.sync()
            ok = self._send(spools)
            with self._cond:
                self._settled = max(self._settled, target)
                if ok:
                    self._sent = max(self._sent, target)
                    self._offline, self._backoff, self._retry_at = False, RETRY_MIN_S, 0.0
                else:
                    self._offline = True
                    self._retry_at = time.monotonic() + self._backoff
                    self._backoff = min(self._backoff * 2, RETRY_MAX_S)
                self._cond.notify_all()

    def _send(self, spools: list[Spool]) -> bool:
        for spool in spools:
            try:
                out = replay(spool, self._store, self._artifacts)
            except SpoolOffline as exc:
                if not self._offline:
                    _log.warning("azuremlcore: the workspace is unreachable (%s); logging goes on into %s and is "
                                 "sent when it answers again.", exc, spool.folder)
                return False
            except Exception as exc:  # noqa: BLE001 - the thread must live on; what it could not send stays spooled
                _log.error("azuremlcore: could not send spool %s: %s", spool.path, exc)
                return False
            if out.errors:
                with self._cond:
                    self._errors.extend(out.errors)
        return True

    def wait(self, timeout_seconds: float) -> list[str]:
        """Wait until everything spooled so far was sent, or the store was found unreachable (at most
        `timeout_seconds`); returns (and forgets) the records the store refused."""
        deadline = time.monotonic() + timeout_seconds
        with self._cond:
            target = self._written
            # Once the store was found down the records are safe on disk: the caller goes on.
            while self._sent < target and not self._offline:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
            errors, self._errors = self._errors, []
        return errors

    def drain(self, timeout_seconds: float) -> bool:
        """At exit: keep sending until everything is sent or the time is up; then release the spools."""
        deadline = time.monotonic() + timeout_seconds
        with self._cond:
            while self._sent < self._written and time.monotonic() < deadline:
                self._retry_at = min(self._retry_at, time.monotonic() + 1.0)
                self._cond.notify_all()
                self._cond.wait(min(0.25, max(0.0, deadline - time.monotonic())))
            done = self._sent >= self._written
            self._closed = True
            self._cond.notify_all()
            spools = list(self._spools.values())
        for spool in spools:
            if done:  # everything reached the server: nothing to keep
                spool.remove()
            else:
                spool.close()
        if not done:
            _log.warning("azuremlcore: the workspace did not answer; what was not sent is kept in %s (run "
                         "'aml sync' to upload it).", self._root)
        return done


_senders: "weakref.WeakKeyDictionary[object, SpoolSender]" = weakref.WeakKeyDictionary()
_every_sender: "weakref.WeakSet[SpoolSender]" = weakref.WeakSet()
_senders_lock = threading.Lock()


def sender_for(store: "WorkspaceStore", artifacts: "FileArtifactStore | None" = None) -> SpoolSender:
    """The process's spool sender for a store."""
    with _senders_lock:
        s = _senders.get(store)
        if s is None:
            s = _senders[store] = SpoolSender(store, artifacts)
        elif artifacts is not None and s._artifacts is None:
            s._artifacts = artifacts
        return s


def exit_wait_s() -> float:
    """How long the process waits at exit for unsent records ($AZUREMLCORE_SPOOL_EXIT_WAIT_S, default 30)."""
    try:
        return float(os.environ.get(EXIT_WAIT_ENV, "30"))
    except ValueError:
        return 30.0


def drain_all() -> None:
    """Send what every sender has left (bounded wait); called at exit after the metrics writers' flush."""
    deadline = time.monotonic() + exit_wait_s()
    for s in list(_senders.values()):
        s.drain(max(0.0, deadline - time.monotonic()))


def _after_fork_in_child() -> None:
    global _senders_lock
    _senders_lock = threading.Lock()
    for s in list(_every_sender):
        s._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def spooled(store: "WorkspaceStore") -> bool:
    """Whether what is logged to this store goes through a spool (a server's store, unless turned off)."""
    from azuremlcore._tracking.spool import spool_enabled

    return bool(getattr(store, "SPOOLED", False)) and spool_enabled()


def offline(store: "WorkspaceStore") -> bool:
    """Whether this process's last try to send to the store found it unreachable."""
    sender = _senders.get(store) if spooled(store) else None
    return sender is not None and sender.offline


def set_attributes(store: "WorkspaceStore", run_id: str, kind: str, values: dict[str, str],
                   write_once: bool = False, timeout_seconds: float = 10) -> bool:
    """Set a run's tags or properties, through its spool when the store is a server's.

    Returns True when the store has them now, False when it is unreachable or slower than
    `timeout_seconds` (they are sent when it answers). A value the store refuses (a write-once property changed) raises its error.
    """
    if not spooled(store):
        store.set_run_attributes(run_id, kind, values, write_once=write_once)
        return True
    from azuremlcore._store.errors import InvalidValueError

    sender = sender_for(store)
    sender.append(run_id, {"t": "attrs", "kind": kind, "values": values, "write_once": write_once})
    refused = sender.wait(timeout_seconds)
    if refused:
        raise InvalidValueError(refused[0])
    return sender.idle


def spool_file(store: "WorkspaceStore", artifacts: "FileArtifactStore", run_id: str, name: str,
               source: "str | os.PathLike[str] | Any") -> int:
    """Keep a copy of a file whose upload failed in the run's spool, to be uploaded when the store answers."""
    import shutil

    sender = sender_for(store, artifacts)
    with sender._cond:
        spool = sender.spool_for(run_id)
    copy = f"files/{uuid_hex()}-{os.path.basename(name)}"
    target = spool.folder / copy
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, (str, os.PathLike)):
        shutil.copyfile(source, target)
    elif isinstance(source, (bytes, bytearray)):
        target.write_bytes(source)
    else:
        with open(target, "wb") as out:
            shutil.copyfileobj(source, out)
    with open(target, "rb") as f:
        os.fsync(f.fileno())
    sender.append(run_id, {"t": "file", "name": name, "copy": copy})
    return target.stat().st_size


def uuid_hex() -> str:
    """A short random name part."""
    import uuid

    return uuid.uuid4().hex[:12]


def spool_status(store: "WorkspaceStore", run_id: str, fields: dict[str, Any],
                 exc: BaseException | None = None) -> bool:
    """Keep a run's end (status, end_time, ...) in its spool when the server is unreachable (`exc` says
    so, or the sender found it down); False when the spool does not apply (the caller raises `exc`)."""
    from azuremlcore._tracking.spool_replay import unreachable

    if not spooled(store) or (exc is not None and not unreachable(exc)) or (exc is None and not offline(store)):
        return False
    sender_for(store).append(run_id, {"t": "status", **fields})
    return True

