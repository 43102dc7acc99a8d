"""The SQL store's queries for MLflow (latest metrics, duplicate-skipping inserts) and migration 0002,
on SQLite and, when $AZUREMLCORE_TEST_POSTGRES_URL names a database, PostgreSQL."""
from __future__ import annotations

import math
import os
import sqlite3
import uuid

import pytest
import sqlalchemy as sa

from azuremlcore._store.errors import InvalidValueError, NotFoundError
from azuremlcore._store.migrate import HEAD_REVISION
from azuremlcore._store.records import MetricPoint, RunRecord, WorkspaceRecord
from azuremlcore._store.sql import SqlWorkspaceStore
from old_schemas import to_revision_0004


def _pg_url() -> str | None:
    url = os.environ.get("AZUREMLCORE_TEST_POSTGRES_URL")
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        s = SqlWorkspaceStore(f"sqlite:///{tmp_path / 'w.db'}")
    else:
        url = _pg_url()
        if not url:
            pytest.skip(reason="no PostgreSQL: set AZUREMLCORE_TEST_POSTGRES_URL (see .ci/start-postgres.sh)")
        s = SqlWorkspaceStore(url)
    yield s
    s.close()


@pytest.fixture
def run_ids(store):  # type: ignore[no-untyped-def]
    ws = store.create_workspace(WorkspaceRecord(id="", subscription_id="s", resource_group="r",
                                                name=f"w{uuid.uuid4().hex[:8]}"))
    exp = store.create_experiment(ws.id, "e")
    ids = [uuid.uuid4().hex for _ in range(3)]
    for rid in ids:
        store.create_run(RunRecord(id=rid, workspace_id=ws.id, experiment_id=exp.id, status="Running"))
    return ids


def _p(run_id: str, key: str, value: float | None, step: int, ts: int, kind: str = "scalar") -> MetricPoint:
    return MetricPoint(run_id, key, kind, value, None if value is not None else '"text"', step, ts)


def test_latest_metrics_follow_mlflow_order(store, run_ids):
    a, b, c = run_ids
    store.log_metrics([
        _p(a, "loss", 0.9, 0, 100), _p(a, "loss", 0.5, 2, 50), _p(a, "loss", 0.7, 1, 300),  # max step wins
        _p(a, "acc", 0.1, 3, 10), _p(a, "acc", 0.2, 3, 20), _p(a, "acc", 0.15, 3, 15),       # then timestamp
        _p(a, "tie", 1.0, 1, 1), _p(a, "tie", 3.0, 1, 1), _p(a, "tie", 2.0, 1, 1),           # then value
        _p(a, "nan", 1.0, 1, 1), _p(a, "nan", math.nan, 1, 1),                                # NaN is lowest
        _p(a, "late_nan", 1.0, 0, 1), _p(a, "late_nan", math.nan, 1, 1),                      # ... but not a step
        _p(a, "text", None, 9, 9, kind="scalar"), _p(a, "rows", 5.0, 9, 9, kind="row"),       # not MLflow metrics
        _p(b, "loss", 0.3, 0, 1)])
    got = {(p.run_id, p.key): p for p in store.latest_metrics([a, b, c])}
    assert set(got) == {(a, "loss"), (a, "acc"), (a, "tie"), (a, "nan"), (a, "late_nan"), (b, "loss")}
    assert (got[a, "loss"].value, got[a, "loss"].step) == (0.5, 2)
    assert got[a, "acc"].value == 0.2 and got[a, "tie"].value == 3.0 and got[a, "nan"].value == 1.0
    assert math.isnan(got[a, "late_nan"].value) and got[b, "loss"].value == 0.3
    assert store.latest_metrics([c]) == [] and store.latest_metrics([]) == []
    assert [p.key for p in store.latest_metrics([a], kinds=("row",))] == ["rows"]


def test_log_metrics_unique_skips_identical_points(store, run_ids):
    a, b = run_ids[0], run_ids[1]
    batch = [_p(a, "m", float(i), i, 1000 + i) for i in range(50)] + [_p(a, "n", math.nan, 0, 5)]
    assert store.log_metrics_unique(a, batch) == 51
    assert store.log_metrics_unique(a, batch) == 0  # a retry adds nothing, NaN included
    # Same step, other value or timestamp: new points; a duplicate inside one call is stored once.
    assert store.log_metrics_unique(a, [_p(a, "m", 99.0, 3, 1003), _p(a, "m", 3.0, 3, 2000),
                                        _p(a, "m", 3.0, 3, 2000)]) == 2
    assert len(store.get_metrics([a], "m")) == 52 and len(store.get_metrics([a], "n")) == 1
    assert store.log_metrics_unique(b, [_p(b, "m", 0.0, 0, 1000)]) == 1  # other runs are independent
    with pytest.raises(InvalidValueError):
        store.log_metrics_unique(a, [_p(b, "m", 1.0, 1, 1)])


def test_log_metrics_unique_checks_the_run(store, run_ids):
    a = run_ids[0]
    with pytest.raises(NotFoundError):
        store.log_metrics_unique("no-such-run", [_p("no-such-run", "m", 1.0, 0, 1)])
    store.update_run(a, lifecycle_stage="deleted")
    assert store.run_lifecycle_stage(a) == "deleted"
    with pytest.raises(InvalidValueError, match="must be in the 'active' state"):
        store.log_metrics_unique(a, [_p(a, "m", 1.0, 0, 1)], lifecycle_stage="active")
    assert store.get_metrics([a]) == []
    assert store.log_metrics_unique(a, [_p(a, "m", 1.0, 0, 1)]) == 1  # no stage asked: stored
    with pytest.raises(NotFoundError):
        store.run_lifecycle_stage("no-such-run")


def test_database_at_0001_is_upgraded_to_0002(tmp_path):
    path = tmp_path / "old.db"
    SqlWorkspaceStore(f"sqlite:///{path}").close()
    to_revision_0004(f"sqlite:///{path}")
    con = sqlite3.connect(path)  # make it what revision 0001 created: no step index, stamped 0001
    con.execute("DROP INDEX ix_metrics_run_key_step_ts")
    con.execute("UPDATE alembic_version SET version_num = '0001'")
    con.commit()
    con.close()
    s = SqlWorkspaceStore(f"sqlite:///{path}")
    try:
        names = {ix["name"] for ix in sa.inspect(s._engine).get_indexes("metrics")}
        assert names == set()  # 0002's index, 0005's on series ids, then none since 0009
        with s._engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
    finally:
        s.close()
