"""Metric points keyed by (series_id, id) (migration 0008): the upgrade of a revision-0006 database and back, ids
given by the store in logging order, and plain floats stored with the defaults of their columns; on SQLite and, when
$AZUREMLCORE_TEST_POSTGRES_URL names a database, PostgreSQL (each test in a database of its own)."""
from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from azuremlcore._store.migrate import HEAD_REVISION
from azuremlcore._store.records import MetricColumns, MetricPoint
from azuremlcore._store.sql import SqlWorkspaceStore
from old_schemas import downgrade, to_revision_0006
from test_store_metric_series import _filled, _reads, _runs


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'w.db'}"
    return request.getfixturevalue("postgres_database")("clustered")


def _shape(url: str) -> tuple[list[str], set[str], bool]:
    """(the points' primary key columns, their index names, whether the id counter table exists)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            return (insp.get_pk_constraint("metrics")["constrained_columns"],
                    {ix["name"] for ix in insp.get_indexes("metrics")}, insp.has_table("metric_id_counter"))
    finally:
        engine.dispose()


def test_a_0006_database_is_upgraded_with_every_point_and_page_token_kept(url: str) -> None:
    a, b, before = _filled(url)
    token = before["pages"][0][-1][0]  # a page token given before the upgrade
    to_revision_0006(url)
    assert _shape(url) == (["id"], {"ix_metrics_series", "ix_metrics_series_step_ts"}, False)

    store = SqlWorkspaceStore(url)  # upgrades 0006 -> head
    try:
        with store._read() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD_REVISION
        assert _shape(url) == (["series_id", "id"], set(), True)  # the step index went in 0009
        assert _reads(store, a, b) == before
        after_token = store.metric_page(a, "loss", token, 1000)
        assert len(after_token) == 201 and after_token == store.metric_page(a, "loss", 0, 1000)[100:]
        # New points continue after the migrated ids, in logging order across keys and runs.
        top = max(r[0] for r in store.metric_page(a, "loss", 0, 1000))
        store.log_metrics([MetricPoint(a, "loss", "scalar", 0.125, None, 301, 3000),
                           MetricPoint(b, "loss", "scalar", 0.5, None, 1, 3001)])
        new = store.metric_page(a, "loss", top, 10)
        assert len(new) == 1 and new[0][0] > top
        assert [p.timestamp for p in store.get_metrics([a, b], "loss")][-2:] == [3000, 3001]
    finally:
        store.close()


def test_downgrade_to_0006_and_upgrade_again_keep_every_point(url: str) -> None:
    a, b, before = _filled(url)
    downgrade(url, "0006")
    assert _shape(url) == (["id"], {"ix_metrics_series", "ix_metrics_series_step_ts"}, False)
    store = SqlWorkspaceStore(url)
    try:
        assert _reads(store, a, b) == before
        assert _shape(url)[0] == ["series_id", "id"]
    finally:
        store.close()


def test_ids_follow_logging_order_through_every_write_path(url: str) -> None:
    """Every path gives its points new ids above all earlier ones, in the order logged, and a plain float stored
    through the short columns reads back with its kind and no NaN."""
    store = SqlWorkspaceStore(url)
    try:
        a, b = _runs(store)
        store.log_metrics([MetricPoint(a, "x", "scalar", 1.0, None, 0, 1), MetricPoint(b, "x", "scalar", 2.0, None, 0, 1)])
        store.log_metrics_unique(a, [MetricPoint(a, "x", "scalar", 3.0, None, 1, 2),
                                     MetricPoint(a, "y", "scalar", math.nan, None, 0, 2)])
        store.log_metrics_once(b, "src", 0, [MetricPoint(b, "x", "scalar", 4.0, None, 1, 3)])
        store.log_metric_columns_once(a, "src", [MetricColumns(0, "x", "scalar", [5.0, 6.0], None, [2, 3], [4, 5]),
                                                 MetricColumns(1, "x", "list", [7.0], None, [4], [6])])
        with store._read() as conn:
            rows = conn.exec_driver_sql('SELECT id, kind, "value", is_nan, value_json FROM metrics ORDER BY id').all()
        assert [r[2] for r in rows] == [1.0, 2.0, 3.0, 0.0, 4.0, 5.0, 6.0, 7.0]
        assert len({r[0] for r in rows}) == 8
        assert [(r[1], bool(r[3]), r[4]) for r in rows if r[2] != 0.0] == \
            [("scalar", False, None)] * 6 + [("list", False, None)]
        assert [r[:2] for r in rows if r[2] == 0.0] == [(rows[3][0], "scalar")] and rows[3][3]
        assert [r[1] for r in store.metric_page(a, "x", 0, 10)] == [1.0, 3.0, 5.0, 6.0, 7.0]
    finally:
        store.close()


def test_history_pages_spell_nan_and_infinities_and_chain_by_token(url: str) -> None:
    """metric_history_page: MLflow's spelling for NaN and the infinities, the float points only, and each page's
    token (the id of its last point) giving the next page, until the last page gives none."""
    store = SqlWorkspaceStore(url)
    try:
        a, _ = _runs(store)
        values = [0.0, math.nan, math.inf, -math.inf, 1e308, -2.5, 0.1 + 0.2]
        store.log_metrics([MetricPoint(a, "v", "scalar", v, None, i, 100 + i) for i, v in enumerate(values)]
                          + [MetricPoint(a, "v", "scalar", None, '"text"', 9, 200)])  # not a float: not in history
        got, after, pages = [], 0, 0
        while True:
            rows, last = store.metric_history_page(a, "v", after, 3)
            got += rows
            pages += 1
            if last is None:
                break
            after = last
        assert pages == 3
        assert got == [(0.0, 100, 0), ("NaN", 101, 1), ("Infinity", 102, 2), ("-Infinity", 103, 3), (1e308, 104, 4),
                       (-2.5, 105, 5), (0.1 + 0.2, 106, 6)]
        assert [type(v) for v, _, _ in got] == [float, str, str, str, float, float, float]
        assert store.metric_history_page(a, "nope", 0, 10) == ([], None)
        assert store.metric_history_page("no-such-run", "v", 0, 10) == ([], None)
    finally:
        store.close()


def test_plain_batches_store_what_the_per_point_path_stores(url: str) -> None:
    """MLflow's batches of plain floats (stored as columns) read back, with their latest values, as the same points
    stored one by one; a retried batch and a point repeated inside a batch add nothing."""
    store = SqlWorkspaceStore(url)
    try:
        a, b = _runs(store)
        batch = [MetricPoint(a, k, "scalar", v, None, s, 100 + s) for k, v, s in
                 [("loss", 0.5, 0), ("acc", 0.1, 0), ("loss", 0.25, 1), ("loss", 0.75, 1), ("acc", 7, 2),
                  ("loss", 0.1, 5), ("loss", 0.2, 3)]]
        assert store.log_metrics_unique(a, batch) == 7
        assert store.log_metrics_unique(a, batch) == 0  # retried
        assert store.log_metrics_unique(a, [MetricPoint(a, "lr", "scalar", 0.1, None, 0, 1)] * 2) == 1
        for p in batch + [MetricPoint(a, "lr", "scalar", 0.1, None, 0, 1)]:
            store.log_metrics([MetricPoint(b, p.key, p.kind, p.value, None, p.step, p.timestamp)])

        def seen(run_id: str) -> list[tuple]:
            return [(p.key, p.kind, p.value, p.value_json, p.step, p.timestamp) for p in store.get_metrics([run_id])]

        assert seen(a) == seen(b)
        latest = {p.key: (p.value, p.step) for p in store.latest_metrics([a])}
        assert latest == {p.key: (p.value, p.step) for p in store.latest_metrics([b])}
        assert latest == {"loss": (0.1, 5), "acc": (7.0, 2), "lr": (0.1, 0)}
    finally:
        store.close()
