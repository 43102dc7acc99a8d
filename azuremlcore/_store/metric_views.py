"""Summaries of a run's metric histories for charts, computed in SQL (a run may hold millions of points).

`metric_keys` lists a run's keys with their last point by index seeks (never a scan of the history);
`metric_buckets` reduces one history to the minimum and maximum of each of N equal slices of its
step or time range, so a chart of N pixels gets every extreme and at most 2N points.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import re

import sqlalchemy as sa

if TYPE_CHECKING:
    from azuremlcore._store.sql import SqlWorkspaceStore

# Kinds whose points are numbers on a history (rows, tables, images and documents have no `value`).
CHARTED_KINDS = ("scalar", "list")
AXES = ("step", "timestamp")


@dataclass(frozen=True)
class KeySummary:
    """A run's metric key: its kind, the id of its last stored point (grows with every new point) and that
    point's step and value (None when the value is not a number)."""

    key: str
    kind: str
    last_id: int
    last_step: int
    last_value: float | None


# One slice of a history: (index, x min, x max, value min, value max, number of values). Plain tuples, as
# the driver returns them: a chart of 200 runs holds 200,000 of them.
Bucket = tuple[int, int, int, float, float, int]


# Distinct keys by a recursive skip-scan of the (run_id, key, id) index: one seek per key, on SQLite and
# PostgreSQL alike (a plain DISTINCT would read every point of the run).
_KEYS = sa.text("""
WITH RECURSIVE k(name) AS (
  SELECT MIN("key") FROM metrics WHERE run_id = :run
  UNION ALL
  SELECT (SELECT MIN("key") FROM metrics WHERE run_id = :run AND "key" > k.name) FROM k WHERE k.name IS NOT NULL
)
SELECT k.name AS name,
  (SELECT MAX(id) FROM metrics WHERE run_id = :run AND "key" = k.name) AS last_id
FROM k WHERE k.name IS NOT NULL
""")
_LAST = sa.text('SELECT kind, step, "value" FROM metrics WHERE id = :id')


def metric_keys(store: "SqlWorkspaceStore", run_id: str) -> list[KeySummary]:
    """Every metric key of a run (sorted), with its kind and last point."""
    return metric_keys_of(store, [run_id])[run_id]


def metric_keys_of(store: "SqlWorkspaceStore", run_ids: list[str]) -> dict[str, list[KeySummary]]:
    """`metric_keys` of many runs in one connection."""
    out: dict[str, list[KeySummary]] = {}
    with store._read() as conn:
        for run_id in run_ids:
            keys = out[run_id] = []
            for row in conn.execute(_KEYS, {"run": run_id}).all():
                last = conn.execute(_LAST, {"id": row.last_id}).one()
                keys.append(KeySummary(row.name, last.kind, int(row.last_id), int(last.step), last.value))
    return out


_LAST_ID = sa.text('SELECT MAX(id) FROM metrics WHERE run_id = :run AND "key" = :key')


def last_ids(store: "SqlWorkspaceStore", run_ids: list[str], key: str) -> dict[str, int | None]:
    """The id of each run's last point of a key (None without one): it changes whenever a point is added,
    so a summary cached with it is current while it is the same (one index seek per run)."""
    with store._read() as conn:
        return {run_id: conn.execute(_LAST_ID, {"run": run_id, "key": key}).scalar() for run_id in run_ids}


_LAST_OF_KEY = sa.text('SELECT "value" FROM metrics WHERE run_id = :run AND "key" = :key ORDER BY id DESC LIMIT 1')


def last_values(store: "SqlWorkspaceStore", run_ids: list[str], key: str) -> dict[str, float]:
    """The last logged value of a key in each run that has a number there (one index seek per run)."""
    out: dict[str, float] = {}
    with store._read() as conn:
        for run_id in run_ids:
            value = conn.execute(_LAST_OF_KEY, {"run": run_id, "key": key}).scalar()
            if value is not None:
                out[run_id] = value
    return out


# The range of a key's x by two seeks on the (run_id, key, step, timestamp) index (MIN()/MAX() would scan).
_STEP_RANGE = ('SELECT (SELECT step FROM metrics WHERE run_id = %(run)s AND "key" = %(key)s ORDER BY step LIMIT 1), '
               '(SELECT step FROM metrics WHERE run_id = %(run)s AND "key" = %(key)s ORDER BY step DESC LIMIT 1)')
_TIME_RANGE = 'SELECT MIN("timestamp"), MAX("timestamp") FROM metrics WHERE run_id = %(run)s AND "key" = %(key)s'
# Integer arithmetic in the database: bucket = (x - lo) * n / span, in [0, n). Aggregates skip NULL values
# (NaN, strings, rows and documents have none).
_BUCKETS = ('SELECT ({x} - %(lo)s) * %(n)s / %(span)s AS b, MIN({x}), MAX({x}), MIN("value"), MAX("value"), '
            'COUNT("value") FROM metrics WHERE run_id = %(run)s AND "key" = %(key)s GROUP BY b ORDER BY b')


def _native(sql: str, paramstyle: str) -> str:
    # The statements are written for psycopg (pyformat); sqlite3 takes the same names as :name.
    return sql if paramstyle == "pyformat" else re.sub(r"%\((\w+)\)s", r":\1", sql)


def metric_buckets(store: "SqlWorkspaceStore", run_ids: list[str], key: str, axis: str = "step",
                   buckets: int = 1000) -> dict[str, list[Bucket]]:
    """For each run, the min and max value of each of `buckets` equal slices of the key's step (or timestamp)
    range, in one connection.

    Only numbers count. Buckets without one are not returned; a history of at most `buckets` distinct x
    values comes back one point per bucket. Rows come straight from the driver's cursor (200 runs of
    1,000 points would spend most of their time in row objects).
    """
    if axis not in AXES:
        raise ValueError(f"axis must be one of {AXES}, not {axis!r}")
    buckets = max(1, min(int(buckets), 10_000))
    out: dict[str, list[Bucket]] = {}
    with store._read() as conn:
        style = conn.dialect.paramstyle
        span_sql = _native(_STEP_RANGE if axis == "step" else _TIME_RANGE, style)
        bucket_sql = _native(_BUCKETS.format(x="step" if axis == "step" else '"timestamp"'), style)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            for run_id in run_ids:
                args = {"run": run_id, "key": key}
                cursor.execute(span_sql, args)
                lo, hi = cursor.fetchone()
                if lo is None:
                    out[run_id] = []
                    continue
                span = int(hi) - int(lo) + 1
                cursor.execute(bucket_sql, {**args, "lo": int(lo), "n": buckets if span > buckets else span,
                                            "span": span})
                out[run_id] = [r for r in cursor.fetchall() if r[5]]  # type: ignore[misc]
        finally:
            cursor.close()
    return out
