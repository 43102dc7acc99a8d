"""Run creation and run searches in the SQL store, on SQLite and PostgreSQL: answers, errors and query plans.

The plans are asserted, not timed: a search ordered as an index walks it and stops at the page's
end (SQLite: no `USE TEMP B-TREE FOR ORDER BY`; PostgreSQL: an index scan under the Limit, no Sort
of every run), which is what keeps a page of 100 within 0.1 s at 100k runs (bench/bench_scale.py).
"""
from __future__ import annotations

import re
import sqlite3
from typing import Any, Callable, Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from azuremlcore._store.errors import AlreadyExistsError, InvalidValueError, NotFoundError
from azuremlcore._store.records import MetricPoint, RunRecord, WorkspaceRecord
from azuremlcore._store.run_search import Clause, Order
from azuremlcore._store.migrate import HEAD_REVISION
from azuremlcore._store.sql import SqlWorkspaceStore


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[SqlWorkspaceStore]:
    url = (f"sqlite:///{tmp_path / 'w.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_database")("search"))
    s = SqlWorkspaceStore(url)
    yield s
    s.close()


@pytest.fixture
def ws_id(store: SqlWorkspaceStore) -> str:
    return store.create_workspace(WorkspaceRecord(id="", subscription_id="s", resource_group="r", name="w")).id


def _run(ws: str, exp: str, run_id: str, start: int | None, **kw: Any) -> RunRecord:
    return RunRecord(id=run_id, workspace_id=ws, experiment_id=exp, status="Running", created_time=1000 + len(run_id),
                     start_time=start, **kw)


def test_create_run_numbers_runs_and_refuses_a_taken_id(store: SqlWorkspaceStore, ws_id: str) -> None:
    exp = store.create_experiment(ws_id, "e").id
    first = store.create_run(_run(ws_id, exp, "r1", 5, tags={"t": "1"}, properties={"p": "x"}, params={"a": "b"}))
    second = store.create_run(_run(ws_id, exp, "r2", 6))
    assert (first.number, second.number) == (1, 2)
    with pytest.raises(AlreadyExistsError):
        store.create_run(_run(ws_id, exp, "r1", 7, tags={"t": "2"}))
    again = store.get_run("r1")  # the stored run is untouched
    assert (again.start_time, again.tags, again.properties, again.params) == (5, {"t": "1"}, {"p": "x"}, {"a": "b"})
    got = store.get_experiment(ws_id, experiment_id=exp)
    assert (got.name, got.tags) == ("e", {})
    store.set_experiment_tags(exp, {"k": "v", "k2": "v2"})
    assert store.get_experiment(ws_id, name="e").tags == {"k": "v", "k2": "v2"}
    with pytest.raises(NotFoundError):
        store.get_experiment(ws_id, name="missing")


def test_batch_params_are_write_once_and_tags_replaced_in_one_transaction(store: SqlWorkspaceStore, ws_id: str) -> None:
    exp = store.create_experiment(ws_id, "e").id
    store.create_run(_run(ws_id, exp, "r1", 5))
    point = MetricPoint("r1", "m", "scalar", 1.0, None, 0, 1)
    store.log_metrics_unique("r1", [point], params={"a": "1", "b": "2"}, tags={"t": "x"})
    store.log_metrics_unique("r1", [], params={"a": "1", "c": "3"}, tags={"t": "y", "u": "z"})  # a repeated: fine
    run = store.get_run("r1")
    assert (run.params, run.tags) == ({"a": "1", "b": "2", "c": "3"}, {"t": "y", "u": "z"})
    with pytest.raises(InvalidValueError, match="write-once"):
        store.log_metrics_unique("r1", [MetricPoint("r1", "m", "scalar", 2.0, None, 1, 2)],
                                 params={"d": "4", "a": "changed"}, tags={"t": "lost"})
    run = store.get_run("r1")  # nothing of the refused batch was stored
    assert (run.params, run.tags) == ({"a": "1", "b": "2", "c": "3"}, {"t": "y", "u": "z"})
    assert [p.value for p in store.get_metrics(["r1"], "m")] == [1.0]


def _ids(store: SqlWorkspaceStore, ws: str, exps: list[str], clauses: list[Clause], order: list[Order],
         limit: int = 100, offset: int = 0) -> list[str]:
    return [r.id for r in store.find_runs(ws, exps, "active", clauses, order, limit, offset)]


def test_default_order_is_start_time_then_creation_newest_first(store: SqlWorkspaceStore, ws_id: str) -> None:
    exp, other = store.create_experiment(ws_id, "e").id, store.create_experiment(ws_id, "o").id
    # Not started: ordered by creation time (created_time = 1000 + len(id)), as MLflow's start time would be.
    for run_id, start in (("a", 1003), ("bb", None), ("ccc", 1003), ("dddd", 1001), ("e", None)):
        store.create_run(_run(ws_id, exp, run_id, start, params={"p": "x" if len(run_id) % 2 else "y"}))
    store.create_run(_run(ws_id, other, "zz", 1002))
    assert _ids(store, ws_id, [exp], [], []) == ["a", "ccc", "bb", "dddd", "e"]  # ties by id
    assert _ids(store, ws_id, [exp], [], [], limit=2, offset=2) == ["bb", "dddd"]
    assert _ids(store, ws_id, [exp], [], [Order("attribute", "start_time", True)]) == ["dddd", "e", "bb", "a", "ccc"]
    assert _ids(store, ws_id, [exp], [Clause("param", "p", "=", "x")], []) == ["a", "ccc", "e"]
    assert _ids(store, ws_id, [exp, other], [], []) == ["a", "ccc", "bb", "zz", "dddd", "e"]
    assert _ids(store, ws_id, [exp], [], [Order("attribute", "run_id", False), Order("param", "p", True)]) == [
        "e", "dddd", "ccc", "bb", "a"]


def _plan(store: SqlWorkspaceStore, ws: str, exp: str, clauses: list[Clause], order: list[Order]) -> str:
    """The plan of the search's first statement, explained in the same kind of transaction the store runs it in."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))
    event.listen(store._engine, "before_cursor_execute", capture)
    try:
        store.find_runs(ws, [exp], "active", clauses, order, 50)
    finally:
        event.remove(store._engine, "before_cursor_execute", capture)
    pg = store._engine.dialect.name == "postgresql"
    with store._engine.connect() as conn:
        lines = []
        for statement, parameters in seen:
            if statement.startswith("SET"):
                conn.exec_driver_sql(statement)
            elif statement.startswith("SELECT runs.\"id\""):  # the search (the page's columns)
                explain = "EXPLAIN (COSTS OFF) " if pg else "EXPLAIN QUERY PLAN "
                lines += [str(row[-1]) for row in conn.exec_driver_sql(explain + statement, parameters)]
                return "\n".join(lines)
    raise AssertionError("no search statement seen")


def test_searches_walk_their_index_instead_of_sorting(store: SqlWorkspaceStore, ws_id: str) -> None:
    exp = store.create_experiment(ws_id, "e").id
    for i in range(300):
        store.create_run(_run(ws_id, exp, f"r{i:03}", 1000 + i, params={"p": "ab"[i % 2]}))
        store.log_metrics([MetricPoint(f"r{i:03}", "m", "scalar", (i * 37 % 101) / 101, None, 0, 1)])
    if store._engine.dialect.name == "postgresql":
        with store._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    by_start = _plan(store, ws_id, exp, [Clause("param", "p", "=", "a")], [])
    by_metric = _plan(store, ws_id, exp, [Clause("param", "p", "=", "a")], [Order("metric", "m", False)])
    if store._engine.dialect.name == "sqlite":
        assert "USING INDEX ix_runs_experiment_start" in by_start and "TEMP B-TREE FOR ORDER BY" not in by_start
        assert "USING INDEX ix_latest_metrics_order" in by_metric and "TEMP B-TREE FOR ORDER BY" not in by_metric
    else:
        assert "Index Scan Backward using ix_runs_experiment_start" in by_start, by_start
        assert "Index Scan Backward using ix_latest_metrics_order" in by_metric, by_metric
        for plan in (by_start, by_metric):  # the Limit stops the walk: only an incremental sort of ties
            assert not any(re.fullmatch(r"(->\s+)?Sort", line.strip()) for line in plan.splitlines()), plan
    ids = _ids(store, ws_id, [exp], [Clause("param", "p", "=", "a")], [Order("metric", "m", False)], limit=5)
    best = sorted((-((i * 37 % 101) / 101), -(1000 + i), f"r{i:03}") for i in range(0, 300, 2))
    assert ids == [r for _, _, r in best[:5]]


def _upgraded_without(path: Any, indexes: list[str], revision: str) -> tuple[set[str], str]:
    """A new SQLite database with `indexes` dropped and stamped at `revision`, opened again by the store: (its index
    names, its revision) after the upgrade."""
    SqlWorkspaceStore(f"sqlite:///{path}").close()
    con = sqlite3.connect(path)
    for name in indexes:
        con.execute(f"DROP INDEX {name}")
    con.execute(f"UPDATE alembic_version SET version_num = '{revision}'")
    con.commit()
    con.close()
    SqlWorkspaceStore(f"sqlite:///{path}").close()
    con = sqlite3.connect(path)
    try:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        return names, con.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        con.close()


def test_upgrade_to_0006_adds_the_start_index(tmp_path: Any) -> None:
    names, revision = _upgraded_without(tmp_path / "old.db", ["ix_runs_experiment_start"], "0004")
    assert "ix_runs_experiment_start" in names and revision == HEAD_REVISION


def test_upgrade_to_0007_adds_the_attribute_order_indexes(tmp_path: Any) -> None:
    names, revision = _upgraded_without(tmp_path / "old.db", ["ix_run_attributes_order", "ix_run_attributes_long"],
                                        "0006")
    assert {"ix_run_attributes_order", "ix_run_attributes_long"} <= names and revision == HEAD_REVISION


def test_rare_metric_filter_starts_from_its_matches_with_the_same_answer(store: SqlWorkspaceStore, ws_id: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from azuremlcore._store import run_search

    exp = store.create_experiment(ws_id, "e").id
    for i in range(60):
        store.create_run(_run(ws_id, exp, f"r{i:02}", 1000 + i // 2, params={"p": "abc"[i % 3]}))
        store.log_metrics([MetricPoint(f"r{i:02}", "m", "scalar", float(i % 7), None, 0, 1),
                           MetricPoint(f"r{i:02}", "n", "scalar", float(i % 5), None, 0, 1)])
    searches = [([Clause("metric", "m", ">=", 5.0)], []), ([Clause("metric", "m", "=", 3.0)], [Order("param", "p")]),
                ([Clause("param", "p", "=", "a"), Clause("metric", "m", "<", 2.0)], [Order("metric", "n", False)]),
                ([Clause("metric", "m", ">", 4.0)], [Order("attribute", "start_time", True)])]
    driven = [_ids(store, ws_id, [exp], c, o, limit=4, offset=1) for c, o in searches]
    monkeypatch.setattr(run_search, "_FEW", -1)  # never few: the index walks or the sort of every run
    walked = [_ids(store, ws_id, [exp], c, o, limit=4, offset=1) for c, o in searches]
    assert driven == walked and all(len(ids) == 4 for ids in driven)


def _fill_for_attribute_order(store: SqlWorkspaceStore, ws: str, exp: str, n: int) -> None:
    """n runs: param p in a few values (ties), tag t on two of three runs, metric m; run ids in creation order."""
    for i in range(n):
        store.create_run(_run(ws, exp, f"r{i:03}", 1000 + i // 3, params={"p": f"v{i * 7 % 11:02}", "q": "ab"[i % 2]},
                              tags={"t": f"x{i % 5}"} if i % 3 else {}))
        store.log_metrics([MetricPoint(f"r{i:03}", "m", "scalar", float(i % 4), None, 0, 1)])


_ATTRIBUTE_SEARCHES = [
    ([], [Order("param", "p")]), ([], [Order("param", "p", False)]), ([], [Order("tag", "t")]),
    ([], [Order("tag", "t", False), Order("metric", "m", True)]),
    ([Clause("param", "q", "=", "a")], [Order("param", "p", False), Order("attribute", "start_time", True)]),
    ([Clause("metric", "m", ">", 1.0)], [Order("tag", "t")]),
]


def test_order_by_param_or_tag_walks_its_index_with_the_sorted_answer(store: SqlWorkspaceStore, ws_id: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from azuremlcore._store import run_search

    exp = store.create_experiment(ws_id, "e").id
    _fill_for_attribute_order(store, ws_id, exp, 90)
    pages = [(0, 7), (5, 20), (50, 100)]  # the last runs past the key's values: the runs without it follow
    walked = [_ids(store, ws_id, [exp], c, o, limit=n, offset=k) for c, o in _ATTRIBUTE_SEARCHES for k, n in pages]
    plan = _plan(store, ws_id, exp, [], [Order("param", "p")])
    if store._engine.dialect.name == "sqlite":
        assert "USING INDEX ix_run_attributes_order" in plan and "TEMP B-TREE FOR ORDER BY" not in plan, plan
    else:
        assert "ix_run_attributes_order" in plan, plan
    # Small windows: a value fills one (searched with the value as a filter), or a few fit in one (an index range).
    for window in (4, 20):
        monkeypatch.setattr(run_search, "_WINDOW", window)
        assert walked == [_ids(store, ws_id, [exp], c, o, limit=n, offset=k) for c, o in _ATTRIBUTE_SEARCHES
                          for k, n in pages], window
    monkeypatch.setattr(run_search, "_walk_attribute", lambda *a, **k: None)  # the sort of every run
    sorted_ = [_ids(store, ws_id, [exp], c, o, limit=n, offset=k) for c, o in _ATTRIBUTE_SEARCHES for k, n in pages]
    assert walked == sorted_
    assert [len(ids) for ids in walked[:3]] == [7, 20, 40]


def test_order_by_attribute_sorts_when_a_value_is_long_or_the_walk_does_not_fill_the_page(
        store: SqlWorkspaceStore, ws_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from azuremlcore._store import run_search
    from azuremlcore._store.schema import ATTRIBUTE_SHORT

    big, small = store.create_experiment(ws_id, "big").id, store.create_experiment(ws_id, "small").id
    _fill_for_attribute_order(store, ws_id, big, 30)
    store.create_run(_run(ws_id, small, "s1", 5, params={"p": "v03"}))
    store.create_run(_run(ws_id, small, "s2", 6, params={"p": "v01"}))
    ph = "?" if store._engine.dialect.name == "sqlite" else "%s"
    walks: list[Any] = []
    walk = run_search._walk_attribute
    monkeypatch.setattr(run_search, "_walk_attribute", lambda *a, **k: walks.append(walk(*a, **k)) or walks[-1])
    assert _ids(store, ws_id, [small], [], [Order("param", "p")]) == ["s2", "s1"]
    assert walks[-1] is not None
    # The small experiment's values are a few among the big one's: windows of 2 entries, at most 2, then a sort.
    monkeypatch.setattr(run_search, "_WINDOW", 2)
    monkeypatch.setattr(run_search, "_MAX_WINDOWS", 2)
    assert _ids(store, ws_id, [small], [], [Order("param", "p")]) == ["s2", "s1"]
    assert walks[-1] is None
    monkeypatch.undo()
    long = "z" * (ATTRIBUTE_SHORT + 1)  # not in the index: the key's runs are sorted (the long value first, DESC)
    store.create_run(_run(ws_id, big, "long", 2000, params={"p": long}))
    with store._read() as conn:
        assert run_search._has_long_values(conn, ph, "param", "p")
        assert not run_search._has_long_values(conn, ph, "param", "q")
    assert _ids(store, ws_id, [big], [], [Order("param", "p", False)], limit=2) == ["long", "r025"]  # v10: r003, r014, r025


def test_order_over_several_experiments_merges_each_ones_page(store: SqlWorkspaceStore, ws_id: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from azuremlcore._store import run_search

    exps = [store.create_experiment(ws_id, f"e{k}").id for k in range(3)]
    for k, exp in enumerate(exps):
        for i in range(25):
            rid = f"r{k}{i:02}"
            store.create_run(_run(ws_id, exp, rid, 1000 + i, params={"p": f"v{(i * 5 + k) % 9}"}))
            if i % 6:  # some runs without m; one NaN
                value = float("nan") if i == 7 else float((i * 7 + k) % 10)
                store.log_metrics([MetricPoint(rid, "m", "scalar", value, None, 0, 1)])
    searches = [([], [Order("metric", "m", False)]), ([], [Order("metric", "m", True), Order("param", "p", False)]),
                ([Clause("param", "p", "!=", "v3")], [Order("param", "p", True)]), ([], [Order("tag", "none")])]
    pages = [(0, 10), (8, 15), (60, 30)]
    merged = [_ids(store, ws_id, exps, c, o, limit=n, offset=k) for c, o in searches for k, n in pages]
    monkeypatch.setattr(run_search, "_UNION_MAX", 0)  # the sort of every run of the experiments
    assert merged == [_ids(store, ws_id, exps, c, o, limit=n, offset=k) for c, o in searches for k, n in pages]
    assert [len(ids) for ids in merged[:3]] == [10, 15, 15]


def test_postgres_connections_lost_are_replaced(monkeypatch: pytest.MonkeyPatch,
                                                postgres_database: Callable[[str], str]) -> None:
    """The pool pings only connections idle past PING_IDLE_S; one lost in steady use fails once, then is replaced."""
    import time

    from azuremlcore._store import sql

    url = postgres_database("search")
    store = SqlWorkspaceStore(url)
    ws = store.create_workspace(WorkspaceRecord(id="", subscription_id="s", resource_group="r", name="w")).id
    store.create_experiment(ws, "e")

    def kill_connections() -> None:
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                                 "current_database() AND pid <> pg_backend_pid()")
        admin.dispose()
        time.sleep(0.2)
    try:
        monkeypatch.setattr(sql, "PING_IDLE_S", 0.0)  # every connection counts as idle: pinged, replaced, no error
        kill_connections()
        assert store.get_experiment(ws, name="e").name == "e"
        monkeypatch.setattr(sql, "PING_IDLE_S", 3600.0)
        kill_connections()
        with pytest.raises(store._engine.dialect.loaded_dbapi.OperationalError):  # psycopg's AdminShutdown
            store.get_experiment(ws, name="e")
        assert store.get_experiment(ws, name="e").name == "e"
    finally:
        store.close()
