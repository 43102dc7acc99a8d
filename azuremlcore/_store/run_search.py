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
when the page is not full and two index-only counts say such runs exist.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from azuremlcore._store import schema as t

_RUN_COLUMN = {"run_id": "id", "run_name": "display_name", "status": "status", "user_id": "submitted_by",
               "end_time": "end_time"}
METRIC_KINDS = ("scalar", "list")


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


def _latest_metric(key: str) -> Any:
    lm = t.latest_metrics.alias()  # its own alias: the walk below also reads latest_metrics
    return (sa.select(sa.case((lm.c.is_nan == sa.true(), sa.null()), else_=lm.c.value))
            .where(lm.c.run_id == t.runs.c.id, lm.c.key == key).correlate(t.runs).scalar_subquery())


def _attribute(kind: str, key: str) -> Any:
    ra = t.run_attributes
    return sa.select(ra.c.value).where(ra.c.run_id == t.runs.c.id, ra.c.kind == kind, ra.c.key == key) \
        .correlate(t.runs).scalar_subquery()


def _term(kind: str, key: str) -> Any:
    if kind == "metric":
        return _latest_metric(key)
    if kind in ("param", "tag"):
        return _attribute(kind, key)
    if key == "start_time":
        return sa.func.coalesce(t.runs.c.start_time, t.runs.c.created_time)
    if key == "run_name":
        return sa.func.coalesce(t.runs.c.display_name, t.runs.c.id)
    return t.runs.c[_RUN_COLUMN[key]]


def _like(term: Any, pattern: str, dialect: str) -> Any:
    if dialect != "sqlite":
        return term.like(pattern)
    # SQLite's LIKE ignores ASCII case; MLflow's LIKE does not, so it becomes GLOB (same wildcards, renamed).
    glob = "".join({"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}.get(c, c) for c in pattern)
    return term.op("GLOB")(glob)


def condition(clause: Clause, dialect: str) -> Any:
    """The SQL condition of one clause."""
    term, v, op = _term(clause.kind, clause.key), clause.value, clause.op
    if op == "=":
        return term == v
    if op == "!=":
        return term != v
    if op == ">":
        return term > v
    if op == ">=":
        return term >= v
    if op == "<":
        return term < v
    if op == "<=":
        return term <= v
    if op == "LIKE":
        return _like(term, v, dialect)
    if op == "ILIKE":
        return sa.func.lower(term).like(str(v).lower())
    if op == "IN":
        return term.in_(list(v))
    if op == "NOT IN":
        return term.not_in(list(v))
    raise ValueError(f"Unknown comparison {op!r}")


def _base(workspace_id: str, experiment_ids: list[str], lifecycle_stage: str | None, clauses: list[Clause],
          dialect: str) -> Any:
    r = t.runs
    q = sa.select(r).where(r.c.workspace_id == workspace_id, r.c.experiment_id.in_(experiment_ids))
    if lifecycle_stage is not None:
        q = q.where(r.c.lifecycle_stage == lifecycle_stage)
    for clause in clauses:
        q = q.where(condition(clause, dialect))
    return q


def _order_keys(order: list[Order]) -> list[Any]:
    keys: list[Any] = []
    for o in order:
        term = _term(o.kind, o.key)
        keys.append(sa.case((term.is_(None), 1), else_=0))  # runs without the value last, in both directions
        keys.append(term.asc() if o.ascending else term.desc())
    return keys + [_term("attribute", "start_time").desc(), t.runs.c.id.asc()]


def _some_without(conn: sa.Connection, experiment_id: str, key: str) -> bool:
    """Whether a run of the experiment lacks a (non-NaN) latest value of key: two counts, both on indexes alone."""
    r, lm = t.runs, t.latest_metrics
    runs = conn.execute(sa.select(sa.func.count()).where(r.c.experiment_id == experiment_id)).scalar() or 0
    values = conn.execute(sa.select(sa.func.count()).where(lm.c.experiment_id == experiment_id, lm.c.key == key,
                                                           lm.c.is_nan == sa.false())).scalar() or 0
    return values < runs


def search_runs(conn: sa.Connection, workspace_id: str, experiment_ids: list[str], lifecycle_stage: str | None,
                clauses: list[Clause], order: list[Order], limit: int, offset: int) -> list[Any]:
    """Run rows matching every clause, in order (then start time, newest first, then id), one page."""
    dialect = conn.dialect.name
    q = _base(workspace_id, experiment_ids, lifecycle_stage, clauses, dialect)
    if not (order and order[0].kind == "metric" and len(experiment_ids) == 1):
        return conn.execute(q.order_by(*_order_keys(order)).limit(limit).offset(offset)).all()
    # Walk the first order key's values on ix_latest_metrics_order (the latest_metrics row drives the join,
    # so the page ends the walk), then the runs without a (non-NaN) value of it.
    first, lm, want = order[0], t.latest_metrics, offset + limit
    value = lm.c.value.asc() if first.ascending else lm.c.value.desc()
    walked = (q.join_from(lm, t.runs, lm.c.run_id == t.runs.c.id)
              .where(lm.c.experiment_id == experiment_ids[0], lm.c.key == first.key, lm.c.is_nan == sa.false())
              .order_by(value, *_order_keys(order[1:])).limit(want))
    rows = conn.execute(walked).all()
    if len(rows) < want and _some_without(conn, experiment_ids[0], first.key):
        has_value = sa.exists().where(lm.c.run_id == t.runs.c.id, lm.c.key == first.key,
                                      lm.c.is_nan == sa.false()).correlate(t.runs)
        rest = q.where(~has_value).order_by(*_order_keys(order[1:])).limit(want - len(rows))
        rows += conn.execute(rest).all()
    return rows[offset:]
