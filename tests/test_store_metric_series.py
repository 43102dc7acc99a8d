"""Metric points keyed by series id (metric_series, migration 0005): writes, reads, deletes and the upgrade
of a revision-0004 database, on SQLite and, when $AZUREMLCORE_TEST_POSTGRES_URL names a database,
PostgreSQL (each test in a database of its own)."""
from __future__ import annotations

import math
import uuid

import pytest
import sqlalchemy as sa

from azuremlcore._store import metric_views as mv
from azuremlcore._store.errors import NotFoundError
from azuremlcore._store.migrate import HEAD_REVISION
from azuremlcore._store.records import MetricColumns, MetricPoint, RunRecord, WorkspaceRecord
from azuremlcore._store.sql import SqlWorkspaceStore
from old_schemas import downgrade, to_revision_0004


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'w.db'}"
    return request.getfixturevalue("postgres_database")("series")


def _runs(store: SqlWorkspaceStore, n: int = 2) -> list[str]:
    ws = store.create_workspace(WorkspaceRecord(id="", subscription_id="s", resource_group="r", name="w"))
    exp = store.create_experiment(ws.id, "e")
    ids = [uuid.uuid4().hex for _ in range(n)]
    for rid in ids:
        store.create_run(RunRecord(id=rid, workspace_id=ws.id, experiment_id=exp.id, status="Running"))
    return ids


def _fill(store: SqlWorkspaceStore, a: str, b: str) -> None:
    """Points of every kind, through each write path, interleaved across keys and runs."""
    store.log_metrics([MetricPoint(a, "loss", "scalar", 1.0 / (i + 1), None, i, 1000 + i) for i in range(300)]
                      + [MetricPoint(b, "loss", "scalar", 5.0, None, 0, 7)])
    store.log_metrics([MetricPoint(a, "acc", "scalar", math.nan, None, 0, 3),
                       MetricPoint(a, "note", "scalar", None, '"text"', 1, 4),
                       MetricPoint(a, "roc", "row", None, '{"x": 1}', 0, 5),
                       MetricPoint(a, "loss", "scalar", 0.25, None, 300, 2000)])
    store.log_metrics_unique(a, [MetricPoint(a, "acc", "scalar", 0.5, None, 1, 6),
                                 MetricPoint(a, "lr", "scalar", 0.1, None, 0, 6)])
    store.log_metrics_once(b, "src", 0, [MetricPoint(b, "acc", "scalar", 0.9, None, 0, 8)])


def _reads(store: SqlWorkspaceStore, a: str, b: str) -> dict[str, object]:
    """Everything a user or the server reads of metrics, in comparable form (NaN as a string)."""
    def plain(points: list[MetricPoint]) -> list[tuple]:
        return [(p.run_id, p.key, p.kind, "nan" if p.value is not None and math.isnan(p.value) else p.value,
                 p.value_json, p.step, p.timestamp) for p in points]

    return {
        "all": plain(store.get_metrics([a, b])), "one key": plain(store.get_metrics([a], "loss")),
        "pages": [store.metric_page(a, "loss", 0, 100), store.metric_page(a, "loss", 150, 1000)],
        "latest": plain(store.latest_metrics([a, b])), "latest rows": plain(store.latest_metrics([a], ("row",))),
        "keys": mv.metric_keys_of(store, [a, b]), "buckets": mv.metric_buckets(store, [a, b], "loss", "step", 10),
        "last": mv.last_ids(store, [a, b], "acc")}


def _filled(url: str) -> tuple[str, str, dict[str, object]]:
    """A database at head with two runs' points through every write path: (run a, run b, what reads gave)."""
    store = SqlWorkspaceStore(url)
    try:
        a, b = _runs(store)
        _fill(store, a, b)
        return a, b, _reads(store, a, b)
    finally:
        store.close()


def test_points_are_read_back_per_series(url):
    store = SqlWorkspaceStore(url)
    try:
        a, b = _runs(store)
        _fill(store, a, b)
        got = _reads(store, a, b)
        assert [p[1] for p in got["all"]][:3] == ["loss"] * 3 and len(got["all"]) == 308
        assert [p[6] for p in got["one key"]] == [1000 + i for i in range(300)] + [2000]
        first, rest = got["pages"]
        assert len(first) == 100 and first[0][1:] == (1.0, False, 1000, 0)
        assert [r[4] for r in rest] == list(range(150, 301)) and all(r[0] > 150 for r in rest)
        assert [k.key for k in got["keys"][a]] == ["acc", "loss", "lr", "note", "roc"]
        assert {(p[1], p[3]) for p in got["latest"] if p[0] == a} == {("acc", 0.5), ("loss", 0.25), ("lr", 0.1)}
        assert store.log_metrics_unique(a, [MetricPoint(a, "acc", "scalar", 0.5, None, 1, 6)]) == 0  # a retry
        with pytest.raises(NotFoundError):
            store.log_metrics([MetricPoint("no-such-run", "x", "scalar", 1.0, None, 0, 1)])
        assert store.metric_page("no-such-run", "loss", 0, 10) == [] and store.metric_page(a, "nope", 0, 10) == []
    finally:
        store.close()


def test_deleting_an_experiment_deletes_its_series_and_points(url):
    store = SqlWorkspaceStore(url)
    try:
        a, b = _runs(store)
        _fill(store, a, b)
        exp = store.get_run(a).experiment_id
        other = store.create_experiment(store.get_run(a).workspace_id, "other")
        store.create_run(RunRecord(id="kept", workspace_id=other.workspace_id, experiment_id=other.id))
        store.log_metrics([MetricPoint("kept", "loss", "scalar", 1.0, None, 0, 1)])
        store.delete_experiment(exp)
        with store._read() as conn:
            counts = [conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()
                      for table in ("metric_series", "metrics", "latest_metrics")]
        assert counts == [1, 1, 1]
        assert [p.key for p in store.get_metrics(["kept"])] == ["loss"]
    finally:
        store.close()


def test_a_0004_database_is_upgraded_with_every_point_read_back_identically(url):
    a, b, before = _filled(url)
    to_revision_0004(url)  # points keyed by run id and key again, ids kept
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("metric_series")
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM metrics WHERE run_id IS NOT NULL").scalar() == 308
    engine.dispose()

    store = SqlWorkspaceStore(url)  # upgrades 0004 -> head
    try:
        with store._read() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD_REVISION
            names = {ix["name"] for ix in sa.inspect(conn).get_indexes("metrics")}
            assert names == set()  # (series_id, id) is the key since 0008; the step index went in 0009
            assert sa.inspect(conn).get_pk_constraint("metrics")["constrained_columns"] == ["series_id", "id"]
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM metric_series").scalar() == 7
        assert _reads(store, a, b) == before
        # New points continue after the migrated ids (history page tokens stay increasing).
        top = max(r[0] for r in store.metric_page(a, "loss", 0, 1000))
        store.log_metrics([MetricPoint(a, "loss", "scalar", 0.125, None, 301, 3000)])
        assert store.metric_page(a, "loss", top, 10)[0][0] > top
    finally:
        store.close()


def test_downgrade_to_0004_and_upgrade_again_keep_every_point(url):
    a, b, before = _filled(url)
    downgrade(url, "0004")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("metrics")}
        assert {"run_id", "key"} <= columns and "series_id" not in columns
    engine.dispose()
    store = SqlWorkspaceStore(url)
    try:
        assert _reads(store, a, b) == before
    finally:
        store.close()


def _columns_records() -> list[MetricColumns]:
    """Spool records as the server receives them: plain ones (one key, several keys with ties and steps out of
    order) and ones that need care per point (NaN, values without a float, value_json, a kind per point, many keys)."""
    many = [f"k{i}" for i in range(20)]
    return [
        MetricColumns(0, "loss", "scalar", [0.5, 0.25, 0.75], None, [0, 1, 1], [10, 11, 11]),
        MetricColumns(1, ["a", "b", "a", "b"], "scalar", [1.0, 2.0, 3.0, 2.0], None, [5, 1, 2, 1], [1, 2, 3, 2]),
        MetricColumns(2, "acc", "scalar", [0.1, math.nan, 0.3], None, [0, 9, 1], [1, 2, 3]),
        MetricColumns(3, ["note", "acc"], ["string", "scalar"], [None, 7], ['"hi"', None], [0, 0], [4, 4]),
        MetricColumns(4, many, "scalar", [float(i) for i in range(20)], None, list(range(20)), list(range(20))),
    ]


def test_columns_store_what_the_same_points_store(url: str) -> None:
    """Records stored as columns read back (history and latest values) exactly as the same points stored one by
    one; a record resent, or numbered at or below the last stored of its source, adds nothing."""
    store = SqlWorkspaceStore(url)
    a, b = _runs(store)
    records = _columns_records()
    assert store.log_metric_columns_once(a, "src", records[:2]) is True
    assert store.log_metric_columns_once(a, "src", records[:2]) is False  # resent: its answer was lost
    assert store.log_metric_columns_once(a, "src", records) is True  # 0 and 1 skipped, 2.. stored
    for record in records:
        n = len(record.value)
        keys = [record.key] * n if isinstance(record.key, str) else record.key
        kinds = [record.kind] * n if isinstance(record.kind, str) else record.kind
        jsons = record.value_json or [None] * n
        store.log_metrics([MetricPoint(b, k, kd, v, vj, s, ts) for k, kd, v, vj, s, ts in
                           zip(keys, kinds, record.value, jsons, record.step, record.timestamp)])

    def seen(points: list[MetricPoint]) -> list[tuple]:
        return [(p.key, p.kind, "nan" if p.value is not None and p.value != p.value else p.value, p.value_json,
                 p.step, p.timestamp) for p in points]

    assert seen(store.get_metrics([a])) == seen(store.get_metrics([b]))
    assert len(store.get_metrics([a])) == sum(len(r.value) for r in records)
    latest = store.latest_metrics([a, b])
    assert sorted(seen([p for p in latest if p.run_id == a])) == sorted(seen([p for p in latest if p.run_id == b]))
    by_key = {p.key: (p.value, p.step) for p in store.latest_metrics([a])}
    assert by_key["loss"] == (0.75, 1) and by_key["a"] == (1.0, 5) and by_key["b"] == (2.0, 1)
    assert by_key["acc"][1] == 9 and math.isnan(by_key["acc"][0])  # the latest by step, though NaN
    with pytest.raises(NotFoundError):
        store.log_metric_columns_once(uuid.uuid4().hex, "src", records[:1])
    store.close()
