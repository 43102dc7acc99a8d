"""Background metric logging: `run.log` queues a point and returns; a thread writes batches.

A training loop pays a lock and an append per value. The writer thread stores what is queued in
one bulk insert per batch, and it never lets a point wait long: a batch is written at the latest
`WRITE_INTERVAL_S` after its oldest point was queued, at once when it reaches the store's batch
limit, and at once when someone calls `flush()`. So other processes (the notebook polling
`run.get_metrics()`) see values while the run runs, and a process killed outright (SIGKILL, out of
memory) loses at most the last fraction of a second. `flush()` returns once everything queued
before it is stored; an atexit hook flushes what is left when the interpreter exits (normally, on
an uncaught exception, or on SIGTERM in a job: see `job_signals`).
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, List, Optional, Tuple

from azuremlcore.exceptions import ExperimentExecutionException

if TYPE_CHECKING:
    from azuremlcore._store.protocol import WorkspaceStore
    from azuremlcore._store.records import MetricPoint
    from azuremlcore._tracking.spool_sender import SpoolSender

_log = logging.getLogger(__name__)

#: A queued point as a plain tuple, in `MetricPoint`'s field order: (run_id, key, kind, value, value_json,
#: step, timestamp). A tuple costs the training loop a third of a dataclass, and the spool turns a batch
#: of them into columns at C speed (`zip(*rows)`).
MetricRow = Tuple[str, str, str, Optional[float], Optional[str], int, int]

# The longest a queued point waits before its batch is written (the latency other processes see, and
# what a SIGKILL can lose). Short enough to feel live, long enough that a fast loop still writes few, large batches.
WRITE_INTERVAL_S = 0.2
# Points per write when the store names no limit of its own (`MAX_METRICS_PER_WRITE`).
DEFAULT_BATCH = 10_000
# Points per spool record: a record costs an fsync, so a fast loop gets few large records (one
# request's worth: see spool_replay.COALESCE_POINTS); a slower one gets one record per interval.
SPOOL_BATCH = 25_000
_RETRY_S = 0.5
_MAX_ATTEMPTS = 20
_AUTH_ATTEMPTS = 4


class MetricsWriter:
    """Queues metric points for one store and writes them from a daemon thread, with bounded latency."""

    def __init__(self, store: "WorkspaceStore", batch_size: Optional[int] = None,
                 interval_s: float = WRITE_INTERVAL_S, sender: "Optional[SpoolSender]" = None) -> None:
        self._store = store
        # With a sender (runs on a workspace server), batches go to the runs' spools on disk and the
        # sender sends them: an unreachable server costs neither values nor memory.
        self._sender = sender
        default = SPOOL_BATCH if sender is not None else getattr(store, "MAX_METRICS_PER_WRITE", DEFAULT_BATCH)
        self._batch = max(1, int(batch_size or default))
        self._interval = interval_s
        self._reset()
        _every_writer.add(self)

    def _reset(self) -> None:
        # Also called in a forked child: the parent's queue is the parent's to write, and its lock
        # or thread may have been mid-use at the fork.
        # An RLock, so that an exit handler running in a thread interrupted inside `put` can still flush.
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._queue: List[MetricRow] = []
        self._oldest = 0.0  # monotonic time the oldest queued point was queued
        self._queued = 0  # points ever queued
        self._taken = 0  # points handed to the writer thread
        self._done = 0  # points stored (or given up on)
        self._urgent = 0  # a flush waits for every point up to this count: write those without lingering
        self._errors: List[BaseException] = []
        self._thread: Optional[threading.Thread] = None

    def put(self, point: "MetricPoint") -> None:
        """Queue one point (microseconds; never touches the database)."""
        self.put_row((point.run_id, point.key, point.kind, point.value, point.value_json, point.step,
                      point.timestamp))

    def put_row(self, row: MetricRow) -> None:
        """Queue one point given as a `MetricRow` tuple (what `run.log` calls: no object per point)."""
        # The lock itself, not the Condition: its __enter__/__exit__ are Python calls, paid once per logged value.
        with self._lock:
            queue = self._queue
            queue.append(row)
            self._queued += 1
            size = len(queue)
            # Wake the writer when its deadline starts (the queue was empty) or a batch is full.
            if size == 1 or size >= self._batch:
                if size == 1:
                    self._oldest = time.monotonic()
                    if self._thread is None:  # the thread never ends: started by the first point (after a fork too)
                        self._thread = threading.Thread(target=self._loop, name="azuremlcore-metrics", daemon=True)
                        self._thread.start()
                self._cond.notify()

    def _due_in(self) -> Optional[float]:
        """Seconds until the queue must be written (0: now), or None when there is nothing to write."""
        if not self._queue:
            return None
        if len(self._queue) >= self._batch or self._urgent > self._taken:
            return 0.0
        return max(0.0, self._oldest + self._interval - time.monotonic())

    def _loop(self) -> None:
        while True:
            with self._cond:
                wait = self._due_in()
                while wait is None or wait > 0:
                    self._cond.wait(wait)
                    wait = self._due_in()
                batch = self._queue[:self._batch]
                del self._queue[:self._batch]
                self._taken += len(batch)
                # What is left (a full batch was taken) is at least as old: `_oldest` stays, so it goes next.
            try:
                self._write(batch)
            except Exception as exc:  # noqa: BLE001 - the thread must outlive any batch (put never restarts it)
                _log.error("Dropped %d metric values: %s", len(batch), exc)
                with self._cond:
                    self._errors.append(exc)
            with self._cond:
                self._done += len(batch)
                self._cond.notify_all()

    def _write(self, batch: List[MetricRow]) -> None:
        if self._sender is not None:
            try:
                self._sender.append_metrics(batch)
                return
            except OSError as exc:  # the disk is full or read-only: send directly, as without a spool
                _log.error("azuremlcore: cannot spool metric values (%s); sending them directly.", exc)
        from azuremlcore._store.records import MetricPoint

        points = [MetricPoint(*row) for row in batch]
        for attempt in range(_MAX_ATTEMPTS):
            try:
                self._store.log_metrics(points)
                return
            except Exception as exc:  # noqa: BLE001 - a transient store error must not kill the thread
                status = getattr(exc, "http_status", 500)
                # 401: a run token can expire between its renewal and this request; the next try takes the new one.
                transient = status >= 500 or (status == 401 and attempt < _AUTH_ATTEMPTS - 1)
                if not transient or attempt == _MAX_ATTEMPTS - 1:
                    _log.error("Dropped %d metric values: %s", len(batch), exc)
                    with self._cond:
                        self._errors.append(exc)
                    return
                time.sleep(_RETRY_S)

    def flush(self, timeout_seconds: float = 300) -> None:
        """Block until every point queued so far is stored; raise if some could not be stored."""
        deadline = time.monotonic() + timeout_seconds
        with self._cond:
            target = self._queued
            if self._done < target:
                self._urgent = max(self._urgent, target)
                self._cond.notify_all()
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ExperimentExecutionException(
                        f"Timed out after {timeout_seconds}s waiting for {target - self._done} metric values to be "
                        "stored; the workspace store is unreachable or very slow.")
                self._cond.wait(min(left, 0.5))
            errors, self._errors = self._errors, []
        if self._sender is not None:
            refused = self._sender.wait(max(0.0, deadline - time.monotonic()))
            if refused and not errors:
                errors = [ExperimentExecutionException(refused[0])]
        if errors:
            raise ExperimentExecutionException(f"Some metric values could not be stored: {errors[0]}", errors[0])


_writers: "weakref.WeakKeyDictionary[object, MetricsWriter]" = weakref.WeakKeyDictionary()
_every_writer: "weakref.WeakSet[MetricsWriter]" = weakref.WeakSet()  # for the fork hook
_writers_lock = threading.Lock()


def writer_for(store: "WorkspaceStore") -> MetricsWriter:
    """The process's metrics writer for a store (spooled when the store is remote: see `spool`)."""
    with _writers_lock:
        w = _writers.get(store)
        if w is None:
            sender = None
            if getattr(store, "SPOOLED", False):
                from azuremlcore._tracking.spool import spool_enabled

                if spool_enabled():
                    from azuremlcore._tracking.spool_sender import sender_for

                    sender = sender_for(store)
            w = _writers[store] = MetricsWriter(store, sender=sender)
        return w


@atexit.register
def _flush_all() -> None:
    for w in list(_writers.values()):
        try:
            w.flush(timeout_seconds=60)
        except Exception as exc:  # noqa: BLE001 - exiting anyway; say what was lost
            _log.error("azuremlcore: metrics not stored at exit: %s", exc)
    if any(w._sender is not None for w in list(_writers.values())):
        from azuremlcore._tracking.spool_sender import drain_all

        drain_all()


def _after_fork_in_child() -> None:
    global _writers_lock
    _writers_lock = threading.Lock()
    for w in list(_every_writer):
        w._reset()


if hasattr(os, "register_at_fork"):  # POSIX; a forked DataLoader worker must not write its parent's points twice
    os.register_at_fork(after_in_child=_after_fork_in_child)
