"""The background metrics writer: values reach the store on their own, soon; flush; errors; forked children."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from azuremlcore._store.records import MetricPoint
from azuremlcore._tracking.metrics_writer import MetricsWriter
from azuremlcore.exceptions import ExperimentExecutionException


class ListStore:
    """A store that keeps written batches (and can be told to fail)."""

    def __init__(self, fail_with: BaseException | None = None) -> None:
        self.batches: list[list[MetricPoint]] = []
        self.fail_with = fail_with
        self.lock = threading.Lock()

    def log_metrics(self, points: list[MetricPoint]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        with self.lock:
            self.batches.append(list(points))

    def values(self) -> list[Any]:
        with self.lock:
            return [p.value for b in self.batches for p in b]


def _point(i: int) -> MetricPoint:
    return MetricPoint("run", "k", "scalar", float(i), None, i, 0)


def test_points_reach_another_store_connection_without_flush(experiment, wait_until) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore._store.sql import SqlWorkspaceStore

    run = experiment.start_logging()
    run.log("loss", 0.5)
    run.log("loss", 0.25)
    # A second store on the same database: what another process (the notebook polling get_metrics) reads through.
    other = SqlWorkspaceStore(run._store.url)
    wait_until(lambda: [p.value for p in other.get_metrics([run.id], "loss")] == [0.5, 0.25], timeout=30,
               what="values visible without flush")


def test_a_full_batch_is_written_without_waiting_for_the_interval(wait_until) -> None:  # type: ignore[no-untyped-def]
    store = ListStore()
    writer = MetricsWriter(store, batch_size=10, interval_s=3600)  # the interval alone would never write
    for i in range(25):
        writer.put(_point(i))
    wait_until(lambda: len(store.values()) == 20, timeout=30, what="two full batches written")
    assert [len(b) for b in store.batches] == [10, 10]
    writer.flush()  # the rest, at once
    assert store.values() == [float(i) for i in range(25)]


def test_a_partial_batch_is_written_after_the_interval(wait_until) -> None:  # type: ignore[no-untyped-def]
    store = ListStore()
    writer = MetricsWriter(store, batch_size=1000, interval_s=0.05)
    writer.put(_point(1))
    wait_until(lambda: store.values() == [1.0], timeout=30, what="a lone point written")
    writer.put(_point(2))  # the writer was idle: a new point starts a new deadline
    wait_until(lambda: store.values() == [1.0, 2.0], timeout=30, what="a second lone point written")


def test_flush_returns_once_everything_queued_is_stored() -> None:
    store = ListStore()
    writer = MetricsWriter(store, batch_size=7, interval_s=3600)
    for i in range(100):
        writer.put(_point(i))
    writer.flush()
    assert store.values() == [float(i) for i in range(100)]
    assert all(len(b) <= 7 for b in store.batches)
    writer.flush()  # nothing queued: returns at once


def test_a_refused_batch_is_reported_by_flush_and_later_points_still_go_in() -> None:
    class Refused(Exception):
        http_status = 400

    store = ListStore(fail_with=Refused("bad point"))
    writer = MetricsWriter(store, interval_s=3600)
    writer.put(_point(1))
    with pytest.raises(ExperimentExecutionException, match="could not be stored: bad point"):
        writer.flush()
    store.fail_with = None
    writer.put(_point(2))
    writer.flush()
    assert store.values() == [2.0]


def test_an_expired_token_is_retried_not_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    import azuremlcore._tracking.metrics_writer as mw

    class Expired(Exception):
        http_status = 401

    class RenewingStore(ListStore):
        """Refuses the first request (a run token that expired just before its renewal), then accepts."""

        def log_metrics(self, points: list[MetricPoint]) -> None:
            if not getattr(self, "refused", False):
                self.refused = True
                raise Expired("token expired")
            super().log_metrics(points)

    monkeypatch.setattr(mw, "_RETRY_S", 0.01)
    store = RenewingStore()
    writer = MetricsWriter(store, interval_s=3600)
    writer.put(_point(1))
    writer.flush()
    assert store.values() == [1.0]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_does_not_write_its_parents_queue(tmp_path: Path) -> None:
    class FileStore:
        def log_metrics(self, points: list[MetricPoint]) -> None:
            with open(tmp_path / "written.txt", "a") as f:
                f.writelines(f"{os.getpid()} {p.value}\n" for p in points)

    writer = MetricsWriter(FileStore(), interval_s=3600)
    writer.put(_point(1))  # queued in the parent when it forks
    pid = os.fork()
    if pid == 0:  # the child (a DataLoader worker, say) logs its own value
        try:
            writer.put(_point(2))
            writer.flush(timeout_seconds=30)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    writer.flush()
    lines = sorted((tmp_path / "written.txt").read_text().split("\n")[:-1])
    assert sorted(line.split()[1] for line in lines) == ["1.0", "2.0"]
    assert {line.split()[0] for line in lines} == {str(os.getpid()), str(pid)}


def test_logging_is_not_slowed_by_a_slow_store() -> None:
    # put() never waits for the store: a store stuck on a write does not block the training loop.
    release = threading.Event()

    class SlowStore(ListStore):
        def log_metrics(self, points: list[MetricPoint]) -> None:
            release.wait(30)
            super().log_metrics(points)

    store = SlowStore()
    writer = MetricsWriter(store, batch_size=1, interval_s=0)
    for i in range(50):
        writer.put(_point(i))  # would hang here if put() waited for the stuck write
    release.set()
    writer.flush()
    assert store.values() == [float(i) for i in range(50)]
