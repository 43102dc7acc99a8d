"""Background metric logging: `run.log` queues a point and returns; a thread writes batches.

A training loop pays a lock and an append per value. The writer thread stores what is queued
in one bulk insert per batch; `flush()` returns once everything queued before it is stored,
and an atexit hook flushes what is left when the interpreter exits normally.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING

from azuremlcore.exceptions import ExperimentExecutionException

if TYPE_CHECKING:
    from azuremlcore._store.protocol import WorkspaceStore
    from azuremlcore._store.records import MetricPoint

_log = logging.getLogger(__name__)
_BATCH = 1000
_LINGER_S = 0.05
_RETRY_S = 0.5
_MAX_ATTEMPTS = 20


class MetricsWriter:
    """Queues metric points for one store and writes them from a daemon thread."""

    def __init__(self, store: "WorkspaceStore") -> None:
        self._store = store
        self._cond = threading.Condition()
        self._queue: list["MetricPoint"] = []
        self._queued = 0  # points ever queued
        self._done = 0  # points stored (or given up on)
        self._errors: list[BaseException] = []
        self._thread: threading.Thread | None = None

    def put(self, point: "MetricPoint") -> None:
        """Queue one point (microseconds; never touches the database)."""
        with self._cond:
            self._queue.append(point)
            self._queued += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="azuremlcore-metrics", daemon=True)
                self._thread.start()
            if len(self._queue) >= _BATCH:
                self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                if len(self._queue) < _BATCH:
                    # Linger briefly so that a burst of logs becomes one insert, not many.
                    self._cond.wait(_LINGER_S)
                batch, self._queue = self._queue[:_BATCH * 10], self._queue[_BATCH * 10:]
            self._write(batch)
            with self._cond:
                self._done += len(batch)
                self._cond.notify_all()

    def _write(self, batch: list["MetricPoint"]) -> None:
        for attempt in range(_MAX_ATTEMPTS):
            try:
                self._store.log_metrics(batch)
                return
            except Exception as exc:  # noqa: BLE001 - a transient store error must not kill the thread
                if getattr(exc, "http_status", 500) < 500 or attempt == _MAX_ATTEMPTS - 1:
                    _log.error("Dropped %d metric values: %s", len(batch), exc)
                    self._errors.append(exc)
                    return
                time.sleep(_RETRY_S)

    def flush(self, timeout_seconds: float = 300) -> None:
        """Block until every point queued so far is stored; raise if some could not be stored."""
        deadline = time.monotonic() + timeout_seconds
        with self._cond:
            target = self._queued
            self._cond.notify_all()
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ExperimentExecutionException(
                        f"Timed out after {timeout_seconds}s waiting for {target - self._done} metric values to be "
                        "stored; the workspace store is unreachable or very slow.")
                self._cond.wait(min(left, 0.5))
            errors, self._errors = self._errors, []
        if errors:
            raise ExperimentExecutionException(f"Some metric values could not be stored: {errors[0]}", errors[0])


_writers: "weakref.WeakKeyDictionary[object, MetricsWriter]" = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def writer_for(store: "WorkspaceStore") -> MetricsWriter:
    """The process's metrics writer for a store."""
    with _writers_lock:
        w = _writers.get(store)
        if w is None:
            w = _writers[store] = MetricsWriter(store)
        return w


@atexit.register
def _flush_all() -> None:
    for w in list(_writers.values()):
        try:
            w.flush(timeout_seconds=60)
        except Exception as exc:  # noqa: BLE001 - exiting anyway; say what was lost
            _log.error("azuremlcore: metrics not stored at exit: %s", exc)
