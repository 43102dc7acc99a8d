"""MLflow's duplicate check without a step index (migration 0009): a batch point identical in (key, value, step,
timestamp) to a stored point, or to an earlier point of its batch, is not stored again, whichever way the batch
relates to the series' highest stored point (above it, at it, below it) and whichever path stored the earlier
points; `metric_series` keeps each series' highest (step, timestamp); the upgrade from 0008 and back keeps every
point. On SQLite and, when $AZUREMLCORE_TEST_POSTGRES_URL names a database, PostgreSQL."""
from __future__ import annotations

import math
import random

import pytest
import sqlalchemy as sa

from azuremlcore._store.migrate import HEAD_REVISION
from azuremlcore._store.records import MetricColumns, MetricPoint
from azuremlcore._store.sql import SqlWorkspaceStore
from old_schemas import downgrade
from test_store_metric_series import _runs


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'w.db'}"
    return request.getfixturevalue("postgres_database")("duplicates")


def _ident(p: MetricPoint) -> tuple:
    v = p.value
    return (p.key, "nan" if v is not None and v != v else v, p.step, p.timestamp)


class _Reference:
    """What MLflow's rule keeps, computed the plain way: every stored point's identity."""

    def __init__(self) -> None:
        self.stored: list[tuple] = []

    def add_all(self, points: list[MetricPoint]) -> None:
        self.stored += [_ident(p) for p in points]

    def add_unique(self, points: list[MetricPoint]) -> int:
        seen, added = set(self.stored), 0
        for p in points:
            if _ident(p) not in seen:
                seen.add(_ident(p))
                self.stored.append(_ident(p))
                added += 1
        return added


def _stored(store: SqlWorkspaceStore, run_id: str) -> list[tuple]:
    return sorted((_ident(p) for p in store.get_metrics([run_id])), key=repr)


def _highest_agree(store: SqlWorkspaceStore) -> None:
    """Each series' hi_step and hi_timestamp are its points' highest (step, timestamp); no point at that rank has
    an id below hi_id."""
    with store._read() as conn:
        for sid, hi_step, hi_ts, hi_id in conn.exec_driver_sql(
                "SELECT id, hi_step, hi_timestamp, hi_id FROM metric_series").all():
            points = conn.exec_driver_sql(f'SELECT id, step, "timestamp" FROM metrics WHERE series_id = {sid}').all()
            if not points:
                assert hi_step is None
                continue
            top = max((s, t) for _, s, t in points)
            assert (hi_step, hi_ts) == top
            assert min(i for i, s, t in points if (s, t) == top) >= hi_id


def test_every_kind_of_batch_keeps_mlflows_rule(url: str) -> None:
    """Random batches in order, at the series' top (step 0 in one millisecond), retried, replayed out of order, with
    NaN and several keys, mixed with points stored by the paths that do not check (log_metrics, the spool's
    records as points and as columns, values that are not floats): each call stores exactly what the rule keeps."""
    store = SqlWorkspaceStore(url)
    rng = random.Random(17)
    try:
        run, other = _runs(store)
        ref, ref_other = _Reference(), _Reference()
        sent: list[list[MetricPoint]] = []
        step, ts, seq = 0, 1000, 0
        for turn in range(60):
            shape = rng.choice(["in order", "same millisecond", "retry", "mixed", "nan", "unchecked", "other run"])
            keys = rng.sample(["loss", "acc", "lr"], rng.randint(1, 3))
            if shape == "in order":
                batch = [MetricPoint(run, k, "scalar", rng.random(), None, step + i, ts + i)
                         for i in range(rng.randint(1, 30)) for k in keys]
                step, ts = step + 30, ts + 30
            elif shape == "same millisecond":  # MLflow's log_metric default: step 0, and a fast loop
                batch = [MetricPoint(run, k, "scalar", float(rng.randint(0, 3)), None, step, ts)
                         for _ in range(rng.randint(1, 6)) for k in keys]
            elif shape == "retry" and sent:
                batch = rng.choice(sent)
            elif shape == "mixed" and sent:  # part retried, part new, out of order
                old = rng.choice(sent)
                batch = rng.sample(old, max(1, len(old) // 2)) + [
                    MetricPoint(run, k, "scalar", rng.random(), None, rng.randint(0, step), rng.randint(1000, ts))
                    for k in keys]
                rng.shuffle(batch)
            elif shape == "nan":
                batch = [MetricPoint(run, k, "scalar", rng.choice([math.nan, math.inf, 1.5]), None, step, ts)
                         for k in keys] * 2
            elif shape == "unchecked":  # paths that store every point as given
                how = rng.choice(["log_metrics", "spool", "columns", "json"])
                points = [MetricPoint(run, keys[0], "scalar", float(turn), None, step + i, ts + i) for i in range(5)]
                if how == "log_metrics":
                    store.log_metrics(points)
                elif how == "spool":
                    store.log_metrics_once(run, "s", seq, points)
                elif how == "columns":
                    store.log_metric_columns_once(run, "s", [MetricColumns(
                        seq, keys[0], "scalar", [p.value for p in points], None, [p.step for p in points],
                        [p.timestamp for p in points])])
                else:  # a value MLflow cannot hold: kept as JSON, never a twin of a float
                    points = [MetricPoint(run, keys[0], "scalar", None, '"text"', step + 40, ts + 40)]
                    store.log_metrics(points)
                seq += 1
                ref.add_all(points)
                sent.append([p for p in points if p.value is not None] or points)
                step, ts = step + 50, ts + 50
                continue
            elif shape == "other run":  # the same points in another run are not twins
                batch = [MetricPoint(other, p.key, p.kind, p.value, None, p.step, p.timestamp)
                         for p in (rng.choice(sent) if sent else [])]
                assert store.log_metrics_unique(other, batch) == ref_other.add_unique(batch)
                continue
            else:
                continue
            assert store.log_metrics_unique(run, batch) == ref.add_unique(batch), shape
            sent.append(batch)
        assert _stored(store, run) == sorted(ref.stored, key=repr)
        assert _stored(store, other) == sorted(ref_other.stored, key=repr)
        _highest_agree(store)
    finally:
        store.close()


def test_a_batch_at_the_top_reads_from_hi_id_and_one_in_order_reads_nothing(url: str) -> None:
    """The three reads: in order (nothing read), at the top (the series from hi_id: a short range), below (the
    series' range); what each stores, and on SQLite the plans."""
    store = SqlWorkspaceStore(url)
    try:
        run, = _runs(store, 1)
        store.log_metrics_unique(run, [MetricPoint(run, "m", "scalar", float(i), None, i, 100 + i)
                                       for i in range(1000)])
        # Step 999 at ts 1099 is the top: a twin of it and a new value at that rank.
        assert store.log_metrics_unique(run, [MetricPoint(run, "m", "scalar", 999.0, None, 999, 1099),
                                              MetricPoint(run, "m", "scalar", 5.0, None, 999, 1099)]) == 1
        assert store.log_metrics_unique(run, [MetricPoint(run, "m", "scalar", 5.0, None, 999, 1099)]) == 0
        assert store.log_metrics_unique(run, [MetricPoint(run, "m", "scalar", 3.0, None, 3, 103),
                                              MetricPoint(run, "m", "scalar", 3.5, None, 3, 103)]) == 1
        with store._read() as conn:
            hi_id = conn.exec_driver_sql("SELECT hi_id FROM metric_series").scalar()
            top_ids = [r[0] for r in conn.exec_driver_sql(
                "SELECT id FROM metrics WHERE step = 999 ORDER BY id").all()]
            assert hi_id <= top_ids[0] and len(top_ids) == 2
            if conn.dialect.name == "sqlite":
                plan = " ".join(r[3] for r in conn.exec_driver_sql(
                    'EXPLAIN QUERY PLAN SELECT id, "value", is_nan, step, "timestamp" FROM metrics WHERE series_id = 1 '
                    'AND id >= 5 AND id < 99 AND step BETWEEN 1 AND 2 AND "timestamp" BETWEEN 1 AND 2 '
                    'ORDER BY id DESC LIMIT 10').all())
                assert "PRIMARY KEY (series_id=? AND id>? AND id<?)" in plan and "TEMP B-TREE" not in plan
                names = {ix["name"] for ix in sa.inspect(conn).get_indexes("metrics")}
                assert names == set()
        assert len(store.get_metrics([run])) == 1002
    finally:
        store.close()


def _downgraded_to_0008(url: str) -> tuple[set[str], set[str]]:
    """Downgrade the database to 0008; returns the points table's index names and metric_series' columns."""
    downgrade(url, "0008")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            return ({ix["name"] for ix in insp.get_indexes("metrics")},
                    {c["name"] for c in insp.get_columns("metric_series")})
    finally:
        engine.dispose()


def test_the_0008_database_is_upgraded_and_downgraded_with_every_point(url: str) -> None:
    """Revision 0008 (the step index, no highest points) -> head: the series' highest points are filled in from
    the stored points, the index goes, a retry of a batch stored before the upgrade adds nothing; back to 0008
    builds the index again and drops the columns; every point reads back the same throughout."""
    store = SqlWorkspaceStore(url)
    try:
        a, b = _runs(store)
        batch = [MetricPoint(a, "loss", "scalar", 1.0 / (i + 1), None, i % 7, 1000 + i // 3) for i in range(200)]
        store.log_metrics_unique(a, batch)
        store.log_metrics([MetricPoint(b, "acc", "scalar", 0.5, None, 0, 7), MetricPoint(b, "acc", "scalar", math.nan,
                                                                                          None, 0, 7)])
        store.log_metrics([MetricPoint(b, "text", "scalar", None, '"x"', 3, 9)])
        before = (_stored(store, a), _stored(store, b))
    finally:
        store.close()
    indexes, series_columns = _downgraded_to_0008(url)
    assert indexes == {"ix_metrics_series_step_ts"} and "hi_step" not in series_columns
    store = SqlWorkspaceStore(url)  # upgrades 0008 -> head
    try:
        with store._read() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD_REVISION
            assert {ix["name"] for ix in sa.inspect(conn).get_indexes("metrics")} == set()
        _highest_agree(store)
        assert (_stored(store, a), _stored(store, b)) == before
        assert store.log_metrics_unique(a, batch) == 0
        assert store.log_metrics_unique(b, [MetricPoint(b, "acc", "scalar", math.nan, None, 0, 7)]) == 0
        assert store.log_metrics_unique(b, [MetricPoint(b, "acc", "scalar", 0.25, None, 0, 7)]) == 1
        assert store.log_metrics_unique(a, [MetricPoint(a, "loss", "scalar", 1.0, None, 6, 1066)]) == 1
        _highest_agree(store)
        after = (_stored(store, a), _stored(store, b))
    finally:
        store.close()
    assert _downgraded_to_0008(url)[0] == {"ix_metrics_series_step_ts"}
    store = SqlWorkspaceStore(url)
    try:
        assert (_stored(store, a), _stored(store, b)) == after
        _highest_agree(store)
    finally:
        store.close()


def test_chart_ranges_without_the_step_index(url: str) -> None:
    """A chart's buckets by step: the step range read by MIN/MAX over the series (the index is gone)."""
    from azuremlcore._store.metric_views import metric_buckets

    store = SqlWorkspaceStore(url)
    try:
        run, = _runs(store, 1)
        store.log_metrics([MetricPoint(run, "m", "scalar", float(s), None, s, 10) for s in (5, -3, 40, 7)])
        buckets = metric_buckets(store, [run], "m", "step", 1000)[run]
        assert [tuple(b[1:3]) for b in buckets] == [(-3, -3), (5, 5), (7, 7), (40, 40)]  # (bucket, min x, max x, ...)
        assert metric_buckets(store, [run], "none", "step", 10) == {run: []}
    finally:
        store.close()
