"""Searching runs in SQL: comparisons of latest metrics, params, tags and run columns, ordered and paged.

The terms (`Clause`, `Order`) are plain data; readers of a search grammar (the server's MLflow
route) build them. A run's metric is its latest point of that key, MLflow's rule: the max by
(step, timestamp, value), NaN lowest; a NaN latest value matches no comparison. Metric values come
from `latest_metrics` (one row per run and key), params and tags from `run_attributes`: each term is
one primary-key seek per candidate run, whatever the size of the histories.

Ordered by a metric within one experiment (what a leaderboard asks), the search walks that key's
values in order on `ix_latest_metrics_order` and stops once the page is full, so it reads about
page size / selectivity rows instead of every run of the experiment (`EXPLAIN QUERY PLAN` in
bench/bench_scale.py shows the plan). Runs without the value follow, from a second query, run only
when the page is not full and two index-only counts say such runs exist. MLflow's default order
(start time, newest first), and any order led by start time, walks `ix_runs_experiment_start`
within one experiment the same way. PostgreSQL is told to prefer these walks (`_prefer_walk`):
it cannot estimate how many runs a filter passes, and for pages larger than its guess it sorted
every run of the experiment. Over several experiments, a start-time order walks each experiment's
part of the index and sorts the union of their pages. Led by a param or a tag within one
experiment, the key's values are taken in order from `ix_run_attributes_order` (short values; a
partial index), a value of many runs searched with the value as a filter (`_walk_attribute`).
Other orders (by a metric over several experiments, or a param or tag whose values are long or
mostly in other experiments) sort the candidate runs: 0.2-0.4 s at 100k runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import sqlalchemy as sa

from azuremlcore._store.schema import ATTRIBUTE_SHORT


_RUN_COLUMN = {"run_id": "id", "run_name": "display_name", "status": "status", "user_id": "submitted_by",
               "end_time": "end_time"}
METRIC_KINDS = ("scalar", "list")
_START = "COALESCE(runs.start_time, runs.created_time)"  # ix_runs_experiment_start's expression, written the same
_NEVER_NULL = frozenset({"start_time", "run_name", "run_id", "status"})


@dataclass(frozen=True)
class Clause:
    """One comparison: kind is metric, param, tag or attribute; op one of = != > >= < <= LIKE ILIKE IN, NOT IN."""

    kind: str
    key: str
    op: str
    value: Any


@dataclass(frozen=True)
class Order:
    """One order term (kind and key as in Clause); runs without the value come last either way."""

    kind: str
    key: str
    ascending: bool = True


class _Sql:
    """SQL text and its parameters, built together (the driver's placeholder: ? for SQLite, %s for psycopg).

    Written as text, not SQLAlchemy expressions: compiling a search's statement is a one-off cost per
    shape of search, and a search is often the first of its shape (measured: the first search of a
    server took twice the time of the next ones).
    """

    def __init__(self, dialect: str) -> None:
        self.dialect, self.ph, self.params = dialect, "?" if dialect == "sqlite" else "%s", []  # type: list[Any]
        self._aliases = 0

    def value(self, v: Any) -> str:
        self.params.append(v)
        return self.ph

    def alias(self) -> str:
        self._aliases += 1
        return f"s{self._aliases}"

    def term(self, kind: str, key: str) -> str:
        """A filter's term: a correlated subquery (one primary-key seek per candidate run) or a run column."""
        if kind == "metric":
            a = self.alias()
            return (f'(SELECT CASE WHEN {a}.is_nan THEN NULL ELSE {a}."value" END FROM latest_metrics {a} '
                    f'WHERE {a}.run_id = runs.id AND {a}."key" = {self.value(key)})')
        if kind in ("param", "tag"):
            a = self.alias()
            return (f'(SELECT {a}."value" FROM run_attributes {a} WHERE {a}.run_id = runs.id AND '
                    f'{a}.kind = {self.value(kind)} AND {a}."key" = {self.value(key)})')
        if key == "start_time":
            return _START
        if key == "run_name":
            return "COALESCE(runs.display_name, runs.id)"
        return f"runs.{_RUN_COLUMN[key]}"

    def condition(self, clause: Clause) -> str:
        term, v, op = self.term(clause.kind, clause.key), clause.value, clause.op
        if op in ("=", "!=", ">", ">=", "<", "<="):
            return f"{term} {op} {self.value(v)}"
        if op == "LIKE":
            if self.dialect != "sqlite":
                return f"{term} LIKE {self.value(v)}"
            # SQLite's LIKE ignores ASCII case; MLflow's LIKE does not: GLOB, same wildcards renamed.
            glob = "".join({"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}.get(c, c) for c in str(v))
            return f"{term} GLOB {self.value(glob)}"
        if op == "ILIKE":
            return f"LOWER({term}) LIKE {self.value(str(v).lower())}"
        if op in ("IN", "NOT IN"):
            if not v:
                return "1 = 0" if op == "IN" else "1 = 1"
            return f"{term} {op} ({', '.join(self.value(x) for x in v)})"
        raise ValueError(f"Unknown comparison {op!r}")

    def order(self, order: list[Order]) -> tuple[str, str]:
        """(LEFT JOINs, ORDER BY keys) of the order terms, then start time (newest first) and run id.

        Call before `where`: the joins' parameters come first in the text. A metric, param or tag is
        joined once (a subquery would be run twice per row, for its value and for its NULL test);
        runs without the value come last in both directions. Columns that are never NULL get no NULL
        test, and a repeated term no second key, so that an order by start time alone is exactly
        `ix_runs_experiment_start`'s and the database can walk it instead of sorting.
        """
        joins: list[str] = []
        keys: list[str] = []
        seen: set[tuple[str, str]] = set()
        for o in order:
            if (o.kind, o.key) in seen:
                continue
            seen.add((o.kind, o.key))
            direction = "ASC" if o.ascending else "DESC"
            if o.kind == "attribute":
                term = self.term(o.kind, o.key)
                if o.key not in _NEVER_NULL:
                    keys.append(f"CASE WHEN {term} IS NULL THEN 1 ELSE 0 END")
                keys.append(f"{term} {direction}")
                if o.key == "run_id":  # unique: nothing after it can change the order
                    return " ".join(joins), ", ".join(keys)
                continue
            a = self.alias()
            if o.kind == "metric":  # MLflow's order: values, then NaN, then no value, in both directions
                joins.append(f'LEFT JOIN latest_metrics {a} ON {a}.run_id = runs.id AND {a}."key" = {self.value(o.key)}')
                keys.append(f"CASE WHEN {a}.run_id IS NULL THEN 2 WHEN {a}.is_nan THEN 1 ELSE 0 END")
            else:
                joins.append(f"LEFT JOIN run_attributes {a} ON {a}.run_id = runs.id AND {a}.kind = {self.value(o.kind)} "
                             f'AND {a}."key" = {self.value(o.key)}')
                keys.append(f'CASE WHEN {a}."value" IS NULL THEN 1 ELSE 0 END')
            keys.append(f'{a}."value" {direction}')
        if ("attribute", "start_time") not in seen:
            keys.append(f"{_START} DESC")
        keys.append("runs.id ASC")
        return " ".join(joins), ", ".join(keys)

    def where(self, workspace_id: str, experiment_ids: list[str], lifecycle_stage: str | None,
              clauses: list[Clause]) -> str:
        parts = [f"runs.workspace_id = {self.value(workspace_id)}"]
        if len(experiment_ids) == 1:  # = rather than IN: both databases then walk an index that starts with it
            parts.append(f"runs.experiment_id = {self.value(experiment_ids[0])}")
        elif experiment_ids:  # none: the caller restricts the experiment itself
            parts.append(f"runs.experiment_id IN ({', '.join(self.value(e) for e in experiment_ids)})")
        if lifecycle_stage is not None:
            parts.append(f"runs.lifecycle_stage = {self.value(lifecycle_stage)}")
        parts += [self.condition(c) for c in clauses]
        return " AND ".join(parts)


def _some_without(conn: sa.Connection, ph: str, experiment_id: str, key: str) -> bool:
    """Whether a run of the experiment lacks a (non-NaN) latest value of key: two counts, both on indexes alone."""
    runs = conn.exec_driver_sql(f"SELECT COUNT(*) FROM runs WHERE experiment_id = {ph}", (experiment_id,)).scalar()
    values = conn.exec_driver_sql(f'SELECT COUNT(*) FROM latest_metrics WHERE experiment_id = {ph} AND "key" = {ph} '
                                  f"AND is_nan = {ph}", (experiment_id, key, False)).scalar()
    return (values or 0) < (runs or 0)


def _prefer_walk(conn: sa.Connection) -> None:
    """On PostgreSQL, make the search that follows walk its index in order rather than sort every candidate.

    PostgreSQL cannot estimate how many runs pass a filter written as subqueries (it assumes 0.5 %
    for an equality), so for a page larger than that estimate it expects the walk to read the whole
    index and picks a scan of every run of the experiment and a sort: 0.73 s against 0.06 s for the
    bench's page of 1,000 at 100k runs. Without sorts on offer it walks, and the walk is never much
    worse than the scan: it reads every run only when the filter matches fewer than a page. LOCAL:
    only this read transaction (the store's search connection, rolled back when returned).
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_sort = off")


_RANGE_OPS = frozenset({"=", ">", ">=", "<", "<="})
# A metric comparison matching at most this many runs drives the search from its range of ix_latest_metrics_order.
_FEW = 5000


def _few_matches(conn: sa.Connection, ph: str, experiment_id: str, clauses: list[Clause]) -> Clause | None:
    """The first metric comparison of the filter that at most _FEW runs of the experiment pass, if any.

    A walk in order reads page size / selectivity runs: every run of the experiment when a filter
    such as `metrics.acc > 0.99` passes a few. Counting a comparison's range on the index (stopping
    past _FEW entries) costs about as much as the matches, and when they are few the search starts
    from them and sorts them instead (0.03 s against 0.4-1.1 s for a page of 1,000 at 100k runs).
    ORDER BY the index's order: when many match, PostgreSQL otherwise scanned the table for them (15 ms).
    """
    for c in clauses:
        if c.kind == "metric" and c.op in _RANGE_OPS:
            n = conn.exec_driver_sql(
                f'SELECT COUNT(*) FROM (SELECT 1 FROM latest_metrics WHERE experiment_id = {ph} AND "key" = {ph} '
                f'AND is_nan = {ph} AND "value" {c.op} {ph} ORDER BY "value" LIMIT {_FEW + 1}) few',
                (experiment_id, c.key, False, c.value)).scalar()
            if (n or 0) <= _FEW:
                return c
    return None


def search_runs(conn: sa.Connection, workspace_id: str, experiment_ids: list[str], lifecycle_stage: str | None,
                clauses: list[Clause], order: list[Order], limit: int, offset: int,
                columns: Sequence[str] = ("id",)) -> list[Any]:
    """Run rows (those columns of runs, in that order) matching every clause, in order (then start time, newest
    first, then id), one page."""
    if not experiment_ids:
        return []
    dialect = conn.dialect.name
    cols = ", ".join(f'runs."{c}"' for c in columns)
    q = _Sql(dialect)
    few = _few_matches(conn, q.ph, experiment_ids[0], clauses) if len(experiment_ids) == 1 else None
    if few is not None:
        joins, keys = q.order(order)
        head = (f"SELECT {cols} FROM latest_metrics d CROSS JOIN runs {joins} WHERE "
                f"d.experiment_id = {q.value(experiment_ids[0])} AND d.\"key\" = {q.value(few.key)} "
                f"AND d.is_nan = {q.value(False)} AND d.\"value\" {few.op} {q.value(few.value)} AND runs.id = d.run_id AND ")
        # d's range is that comparison already: not tested again per run (a primary-key seek each).
        where = q.where(workspace_id, [], lifecycle_stage, [c for c in clauses if c is not few])
        sql = f"{head}{where} ORDER BY {keys} LIMIT {int(limit)} OFFSET {int(offset)}"
        return conn.exec_driver_sql(sql, tuple(q.params)).all()
    if order and order[0].kind in ("param", "tag") and len(experiment_ids) == 1:
        rows = _walk_attribute(conn, columns, workspace_id, experiment_ids[0], lifecycle_stage, clauses, order, limit,
                               offset)
        if rows is not None:
            return rows
    if (order and order[0].kind != "attribute" and len(experiment_ids) > 1
            and len(experiment_ids) * (offset + limit) <= _UNION_MAX):
        return _each_experiment(conn, columns, workspace_id, experiment_ids, lifecycle_stage, clauses, order, limit,
                                offset)
    by_start = not order or (order[0].kind, order[0].key) == ("attribute", "start_time")
    if by_start and len(experiment_ids) > 1 and all(o.kind == "attribute" for o in order):
        # Each experiment walks its own part of ix_runs_experiment_start for the first offset + limit runs; the
        # union of those is sorted again (its order terms are run columns, written on the union named runs).
        _prefer_walk(conn)
        want, parts = offset + limit, []
        for e in experiment_ids:
            _, keys = q.order(order)
            parts.append(f"SELECT * FROM (SELECT {cols} FROM runs WHERE "
                         f"{q.where(workspace_id, [e], lifecycle_stage, clauses)} ORDER BY {keys} LIMIT {int(want)}) p")
        _, keys = q.order(order)
        sql = f"SELECT * FROM ({' UNION ALL '.join(parts)}) runs ORDER BY {keys} LIMIT {int(limit)} OFFSET {int(offset)}"
        return conn.exec_driver_sql(sql, tuple(q.params)).all()
    if not (order and order[0].kind == "metric" and len(experiment_ids) == 1):
        if len(experiment_ids) == 1 and by_start:
            _prefer_walk(conn)
        joins, keys = q.order(order)
        where = q.where(workspace_id, experiment_ids, lifecycle_stage, clauses)
        sql = f"SELECT {cols} FROM runs {joins} WHERE {where} ORDER BY {keys} LIMIT {int(limit)} OFFSET {int(offset)}"
        return conn.exec_driver_sql(sql, tuple(q.params)).all()
    # Walk the first order key's values on ix_latest_metrics_order (the latest_metrics row drives the join,
    # so the page ends the walk), then the runs without a (non-NaN) value of it.
    first, want = order[0], offset + limit
    joins, keys = q.order(order[1:])
    # The run is found by its id (a run's experiment never changes, so w's experiment is the run's): with the
    # experiment also a condition on runs, PostgreSQL scanned the experiment's runs for every walked row.
    head = (f"SELECT {cols} FROM latest_metrics w CROSS JOIN runs {joins} WHERE "
            f"w.experiment_id = {q.value(experiment_ids[0])} AND w.\"key\" = {q.value(first.key)} "
            f"AND w.is_nan = {q.value(False)} AND runs.id = w.run_id AND ")
    where = q.where(workspace_id, [], lifecycle_stage, clauses)
    sql = f"{head}{where} ORDER BY w.\"value\" {'ASC' if first.ascending else 'DESC'}, {keys} LIMIT {int(want)}"
    _prefer_walk(conn)
    rows = conn.exec_driver_sql(sql, tuple(q.params)).all()
    if len(rows) < want and _some_without(conn, q.ph, experiment_ids[0], first.key):
        # Those with a NaN latest value first, then those without one (MLflow's order, either direction).
        r = _Sql(dialect)
        h = f'LEFT JOIN latest_metrics h ON h.run_id = runs.id AND h."key" = {r.value(first.key)}'
        joins, keys = r.order(order[1:])
        where = r.where(workspace_id, experiment_ids, lifecycle_stage, clauses)
        sql = (f"SELECT {cols} FROM runs {h} {joins} WHERE {where} AND (h.run_id IS NULL OR h.is_nan = {r.value(True)}) "
               f"ORDER BY CASE WHEN h.run_id IS NULL THEN 1 ELSE 0 END, {keys} LIMIT {int(want - len(rows))}")
        rows += conn.exec_driver_sql(sql, tuple(r.params)).all()
    return rows[offset:]


# The condition of schema.ATTRIBUTE_ORDER_INDEX, written as the index has it (the planners match it by its text).
_SHORT = f'length(w."value") <= {ATTRIBUTE_SHORT}'
# Index entries read at a time (the key's next values in order), and at most, before the walk gives way to a sort.
_WINDOW, _MAX_WINDOWS = 1000, 20


def _has_long_values(conn: sa.Connection, ph: str, kind: str, key: str) -> bool:
    """Whether some value of the key is too long for ix_run_attributes_order (one seek on ix_run_attributes_long).

    COUNT, not LIMIT 1: PostgreSQL, with no statistics on length(), expected a third of the key's
    rows to be long and scanned the table for the first (61 ms at 100k runs).
    """
    n = conn.exec_driver_sql(f'SELECT COUNT(*) FROM run_attributes WHERE kind = {ph} AND "key" = {ph} '
                             f'AND length("value") > {ATTRIBUTE_SHORT}', (kind, key)).scalar()
    return bool(n)


def _walk_attribute(conn: sa.Connection, columns: Sequence[str], workspace_id: str, experiment_id: str,
                    lifecycle_stage: str | None, clauses: list[Clause], order: list[Order], limit: int,
                    offset: int) -> list[Any] | None:
    """A search of one experiment ordered first by a param or tag: the key's values taken in order from
    ix_run_attributes_order until the page is full, then the runs without the key. None (the caller sorts)
    when a value is too long for the index, or when _MAX_WINDOWS windows did not fill the page (the key's
    values are mostly other experiments' runs, or the filter passes few).

    The index is read _WINDOW entries at a time, grouped by value (bounded: no count of a whole
    key). A value filling a window is one of a grid's few values: its runs are a search of their
    own, the value as a filter and the remaining terms as its order, which walks its own index
    (start time or a metric) and stops at the page's end; sorting them instead, a third of the
    experiment, took 0.35 s at 100k runs. The values wholly inside a window are one query driven
    by the index's range of them, sorted by the remaining order terms.
    """
    ph = "?" if conn.dialect.name == "sqlite" else "%s"
    first, want = order[0], offset + limit
    if _has_long_values(conn, ph, first.kind, first.key):
        return None
    beyond, direction = (">", "ASC") if first.ascending else ("<", "DESC")
    rows: list[Any] = []
    after: Any = None
    for _ in range(_MAX_WINDOWS):
        bound = "" if after is None else f'AND w."value" {beyond} {ph} '
        groups = conn.exec_driver_sql(
            f'SELECT v, COUNT(*) FROM (SELECT w."value" AS v FROM run_attributes w WHERE w.kind = {ph} '
            f'AND w."key" = {ph} AND {_SHORT} {bound}ORDER BY w."value" {direction} LIMIT {_WINDOW}) e '
            f"GROUP BY v ORDER BY v {direction}", (first.kind, first.key) + (() if after is None else (after,))).all()
        if not groups:
            break
        if groups[0][1] >= _WINDOW:  # one value fills the window: its runs searched with it as a filter
            same = Clause(first.kind, first.key, "=", groups[0][0])
            rows += search_runs(conn, workspace_id, [experiment_id], lifecycle_stage, [*clauses, same], order[1:],
                                want - len(rows), 0, columns)
            after = groups[0][0]
        else:
            # The window's last value may go on past it, unless the window reached the key's end.
            whole = groups if sum(n for _, n in groups) < _WINDOW else groups[:-1]
            rows += _values_range(conn, columns, workspace_id, experiment_id, lifecycle_stage, clauses, order,
                                  whole[0][0], whole[-1][0], want - len(rows))
            after = whole[-1][0]
            if len(whole) == len(groups):
                break
        if len(rows) >= want:
            return rows[offset:]
    else:
        return None
    r = _Sql(conn.dialect.name)  # every value read: the runs without the key follow, in either direction
    cols = ", ".join(f'runs."{c}"' for c in columns)
    joins, keys = r.order(order[1:])  # first: the joins' parameters come first in the text
    missing = (f'NOT EXISTS (SELECT 1 FROM run_attributes h WHERE h.run_id = runs.id AND h.kind = '
               f'{r.value(first.kind)} AND h."key" = {r.value(first.key)})')
    where = r.where(workspace_id, [experiment_id], lifecycle_stage, clauses)
    sql = f"SELECT {cols} FROM runs {joins} WHERE {missing} AND {where} ORDER BY {keys} LIMIT {int(want - len(rows))}"
    rows += conn.exec_driver_sql(sql, tuple(r.params)).all()
    return rows[offset:]


def _values_range(conn: sa.Connection, columns: Sequence[str], workspace_id: str, experiment_id: str, lifecycle_stage: str | None,
                  clauses: list[Clause], order: list[Order], first_value: str, last_value: str,
                  limit: int) -> list[Any]:
    """The runs whose value of order[0]'s key lies between two values (in the walk's direction), in order."""
    q = _Sql(conn.dialect.name)
    cols = ", ".join(f'runs."{c}"' for c in columns)
    first = order[0]
    low, high = (first_value, last_value) if first.ascending else (last_value, first_value)
    joins, keys = q.order(order[1:])
    head = (f"SELECT {cols} FROM run_attributes w CROSS JOIN runs {joins} WHERE w.kind = {q.value(first.kind)} "
            f'AND w."key" = {q.value(first.key)} AND {_SHORT} AND w."value" >= {q.value(low)} '
            f'AND w."value" <= {q.value(high)} AND runs.id = w.run_id AND ')
    where = q.where(workspace_id, [experiment_id], lifecycle_stage, clauses)
    sql = f'{head}{where} ORDER BY w."value" {"ASC" if first.ascending else "DESC"}, {keys} LIMIT {int(limit)}'
    return conn.exec_driver_sql(sql, tuple(q.params)).all()


# Over several experiments, the per-experiment pages are merged when they hold at most this many runs in all.
_UNION_MAX = 20_000


def _each_experiment(conn: sa.Connection, columns: Sequence[str], workspace_id: str, experiment_ids: list[str],
                     lifecycle_stage: str | None, clauses: list[Clause], order: list[Order], limit: int,
                     offset: int) -> list[Any]:
    """A search over several experiments ordered by a metric, param or tag: each experiment's first
    offset + limit runs (its own walk, which stops at its page's end), then those few sorted together.

    The page over all experiments is among the union of each one's first offset + limit runs in the same
    order. Before: `experiment_id IN (...)` read and sorted every run of the experiments.
    """
    ids: list[str] = []
    for e in experiment_ids:
        ids += [r[0] for r in search_runs(conn, workspace_id, [e], lifecycle_stage, clauses, order, offset + limit, 0)]
    if not ids:
        return []
    q = _Sql(conn.dialect.name)
    cols = ", ".join(f'runs."{c}"' for c in columns)
    joins, keys = q.order(order)
    sql = (f"SELECT {cols} FROM runs {joins} WHERE runs.id IN ({', '.join(q.value(i) for i in ids)}) "
           f"ORDER BY {keys} LIMIT {int(limit)} OFFSET {int(offset)}")
    return conn.exec_driver_sql(sql, tuple(q.params)).all()
