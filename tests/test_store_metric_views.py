"""Chart summaries computed in SQL (`_store/metric_views.py`): keys by skip-scan, min/max buckets, last values,
on SQLite and, when $AZUREMLCORE_TEST_POSTGRES_URL names a database, PostgreSQL."""
from __future__ import annotations

import math
import os
import uuid

import pytest

from azuremlcore._store import metric_views as mv
from azuremlcore._store.records import MetricPoint, RunRecord, WorkspaceRecord
from azuremlcore._store.sql import SqlWorkspaceStore
from azuremlcore.server.web.downsample import min_max, to_series


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        s = SqlWorkspaceStore(f"sqlite:///{tmp_path / 'w.db'}")
    else:
        url = os.environ.get("AZUREMLCORE_TEST_POSTGRES_URL")
        if not url:
            pytest.skip(reason="no PostgreSQL: set AZUREMLCORE_TEST_POSTGRES_URL (see .ci/start-postgres.sh)")
        s = SqlWorkspaceStore("postgresql+psycopg://" + url.split("://", 1)[1])
    yield s
    s.close()


@pytest.fixture
def runs(store):  # type: ignore[no-untyped-def]
    ws = store.create_workspace(WorkspaceRecord(id="", subscription_id="s", resource_group="r",
                                                name=f"w{uuid.uuid4().hex[:8]}"))
    exp = store.create_experiment(ws.id, "e")
    ids = [uuid.uuid4().hex for _ in range(2)]
    for rid in ids:
        store.create_run(RunRecord(id=rid, workspace_id=ws.id, experiment_id=exp.id, status="Running"))
    return ids


def test_keys_buckets_and_last_values(store, runs):
    a, b = runs
    values = [math.sin(i / 10) * 10 + (i % 7) for i in range(1000)]
    values[517] = 99.0
    points = [MetricPoint(a, "loss", "scalar", v, None, i, 1_000_000 + i * 5) for i, v in enumerate(values)]
    points += [MetricPoint(a, "acc", "scalar", 0.5, None, 0, 1_000_000), MetricPoint(a, "acc", "scalar", None, None, 1, 1)]
    points += [MetricPoint(a, "roc", "row", None, '{"x": 1}', 0, 1), MetricPoint(b, "loss", "scalar", 3.0, None, 0, 5)]
    store.log_metrics(points)
    keys = {k.key: k for k in mv.metric_keys(store, a)}
    assert sorted(keys) == ["acc", "loss", "roc"]
    assert keys["loss"].kind == "scalar" and keys["loss"].last_step == 999 and keys["loss"].last_value == values[-1]
    assert keys["roc"].kind == "row" and keys["roc"].last_value is None
    assert mv.metric_keys(store, "nope") == []

    found = mv.metric_buckets(store, [a, b, "nope"], "loss", "step", 100)
    assert len(found[a]) == 100 and found["nope"] == [] and found[b] == [(0, 0, 0, 3.0, 3.0, 1)]
    assert to_series(found[a]) == min_max(list(enumerate(values)), 100)
    assert max(bucket[4] for bucket in found[a]) == 99.0
    whole = mv.metric_buckets(store, [a], "loss", "step", 5000)[a]
    assert [bk[3] for bk in whole] == values  # a history shorter than the buckets comes back whole
    timed = mv.metric_buckets(store, [a], "loss", "timestamp", 10)[a]
    assert len(timed) == 10 and timed[0][1] == 1_000_000 and timed[-1][2] == 1_000_000 + 999 * 5
    assert mv.metric_buckets(store, [a], "roc", "step", 10)[a] == []  # rows have no numbers
    assert mv.last_values(store, [a, b], "loss") == {a: values[-1], b: 3.0}
    assert mv.last_values(store, [a], "acc") == {}  # its last point is not a number
    with pytest.raises(ValueError, match="axis"):
        mv.metric_buckets(store, [a], "loss", "value", 10)
