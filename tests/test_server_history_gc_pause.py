"""The cyclic collector paused while a history page is built (history3): off during the build, back as it was after."""
from __future__ import annotations

import gc
import json
import threading
import uuid
from typing import Any, Iterator

import pytest

from azuremlcore._store.records import MetricPoint, RunRecord, WorkspaceRecord
from azuremlcore._store.sql import SqlWorkspaceStore
from azuremlcore.server import _gc_pause
from azuremlcore.server._mlflow_common import metric_history, metric_history_page


@pytest.fixture
def gc_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


@pytest.fixture
def store(tmp_path: Any) -> Iterator[tuple[SqlWorkspaceStore, str]]:
    s = SqlWorkspaceStore(f"sqlite:///{tmp_path / 'w.db'}")
    ws = s.create_workspace(WorkspaceRecord(id="", subscription_id="s", resource_group="g", name="w"))
    rid = uuid.uuid4().hex
    s.create_run(RunRecord(id=rid, workspace_id=ws.id, experiment_id=s.create_experiment(ws.id, "e").id,
                           status="Running"))
    s.log_metrics([MetricPoint(rid, "m", "scalar", float(i), None, i, 1_700_000_000_000 + i) for i in range(30)])
    yield s, rid
    s.close()


class _Watching:
    """A store whose page read records whether the collector was on, and may fail."""

    def __init__(self, inner: SqlWorkspaceStore, fail: bool = False) -> None:
        self.inner, self.fail = inner, fail
        self.seen: list[bool] = []

    def metric_history_text(self, *a: Any) -> None:
        return None

    def metric_history_page(self, *a: Any) -> Any:
        self.seen.append(gc.isenabled())
        if self.fail:
            raise RuntimeError("disk gone")
        return self.inner.metric_history_page(*a)


def test_collector_off_during_the_page_and_on_after(gc_on: None, store: tuple[SqlWorkspaceStore, str]) -> None:
    s, rid = store
    w = _Watching(s)
    body, token = metric_history_page(w, rid, "m", 10, None)
    assert w.seen == [False] and gc.isenabled()
    assert [p["step"] for p in json.loads(body)["metrics"]] == list(range(10)) and token is not None
    # The full path's text answer is the same page.
    assert json.loads(metric_history(s, rid, "m", 10, None)) == json.loads(body)


def test_collector_on_again_when_the_read_fails(gc_on: None, store: tuple[SqlWorkspaceStore, str]) -> None:
    s, rid = store
    with pytest.raises(RuntimeError):
        metric_history_page(_Watching(s, fail=True), rid, "m", 10, None)
    assert gc.isenabled()


def test_collector_left_off_when_the_caller_had_turned_it_off(gc_on: None,
                                                               store: tuple[SqlWorkspaceStore, str]) -> None:
    s, rid = store
    gc.disable()
    metric_history_page(s, rid, "m", 10, None)
    assert not gc.isenabled()


def test_overlapping_builds_turn_it_back_on_when_the_last_ends(gc_on: None) -> None:
    first_in, second_done, states = threading.Event(), threading.Event(), []

    def first() -> None:
        with _gc_pause.collection_paused():
            first_in.set()
            second_done.wait(10)
            states.append(("first, the second gone", gc.isenabled()))
        states.append(("both gone", gc.isenabled()))

    t = threading.Thread(target=first)
    t.start()
    assert first_in.wait(10)
    with _gc_pause.collection_paused():
        states.append(("both in", gc.isenabled()))
    states.append(("second gone", gc.isenabled()))
    second_done.set()
    t.join(10)
    assert states == [("both in", False), ("second gone", False), ("first, the second gone", False),
                      ("both gone", True)]
