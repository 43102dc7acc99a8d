"""Summaries of a run's metric histories for charts, computed in SQL (a run may hold millions of points).

`metric_keys` lists a run's keys (its metric_series rows) with their last point by index seeks (never
a scan of the history);
`metric_buckets` reduces one history to the minimum and maximum of each of N equal slices of its
step or time range, so a chart of N pixels gets every extreme and at most 2N points.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import re
from contextlib import contextmanager

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


class _Reader:
    """One read connection's driver cursor, for many small statements (a page of 200 runs makes hundreds:
    SQLAlchemy's per-statement work would cost more than the index seeks themselves)."""

    def __init__(self, conn: sa.Connection) -> None:
        self._pyformat = conn.dialect.paramstyle == "pyformat"
        self._cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        self._sql: dict[str, str] = {}

    def rows(self, sql: str, **args: object) -> list[tuple]:
        """All rows of a statement written with %(name)s parameters (psycopg's style; sqlite3 gets :name)."""
        native = self._sql.get(sql)
        if native is None:
            native = self._sql[sql] = sql if self._pyformat else re.sub(r"%\((\w+)\)s", r":\1", sql)
        self._cursor.execute(native, args)
        return self._cursor.fetchall()

    def close(self) -> None:
        self._cursor.close()


@contextmanager
def _reader(store: "SqlWorkspaceStore") -> Iterator[_Reader]:
    with store._read() as conn:
        reader = _Reader(conn)
        try:
            yield reader
        finally:
            reader.close()


# A run's keys are its metric_series rows; each key's last point is one seek on the points' key (series_id, id).
_KEYS = """
SELECT s."key", m.kind, m.id, m.step, m."value" FROM metric_series s
JOIN metrics m ON m.series_id = s.id AND m.id = (SELECT MAX(id) FROM metrics WHERE series_id = s.id)
WHERE s.run_id = %(run)s ORDER BY s."key"
"""
# The series of (run, key): a history is the points of one integer id.
_SERIES = '(SELECT id FROM metric_series WHERE run_id = %(run)s AND "key" = %(key)s)'


def metric_keys(store: "SqlWorkspaceStore", run_id: str) -> list[KeySummary]:
    """Every metric key of a run (sorted), with its kind and last point."""
    return metric_keys_of(store, [run_id])[run_id]


def metric_keys_of(store: "SqlWorkspaceStore", run_ids: list[str]) -> dict[str, list[KeySummary]]:
    """`metric_keys` of many runs in one connection."""
    with _reader(store) as db:
        return {run_id: [KeySummary(r[0], r[1], int(r[2]), int(r[3]), r[4]) for r in db.rows(_KEYS, run=run_id)]
                for run_id in run_ids}


_LAST = f'SELECT id, "value" FROM metrics WHERE series_id = {_SERIES} ORDER BY id DESC LIMIT 1'


def last_ids(store: "SqlWorkspaceStore", run_ids: list[str], key: str) -> dict[str, int | None]:
    """The id of each run's last point of a key (None without one): it changes whenever a point is added,
    so a summary cached with it is current while it is the same (one index seek per run)."""
    out: dict[str, int | None] = {}
    with _reader(store) as db:
        for run_id in run_ids:
            found = db.rows(_LAST, run=run_id, key=key)
            out[run_id] = int(found[0][0]) if found else None
    return out


def last_values(store: "SqlWorkspaceStore", run_ids: list[str], key: str) -> dict[str, float]:
    """The last logged value of a key in each run that has a number there (one index seek per run)."""
    out: dict[str, float] = {}
    with _reader(store) as db:
        for run_id in run_ids:
            found = db.rows(_LAST, run=run_id, key=key)
            if found and found[0][1] is not None:
                out[run_id] = found[0][1]
    return out


# The range of a key's x: one pass over the series' points (no index orders them by step or time since migration
# 0009), as the buckets' query below makes anyway.
_STEP_RANGE = f'SELECT MIN(step), MAX(step) FROM metrics WHERE series_id = {_SERIES}'
_TIME_RANGE = f'SELECT MIN("timestamp"), MAX("timestamp") FROM metrics WHERE series_id = {_SERIES}'
# Integer arithmetic in the database: bucket = (x - lo) * n / span, in [0, n). Aggregates skip NULL values
# (NaN, strings, rows and documents have none).
_BUCKETS = ('SELECT ({x} - %(lo)s) * %(n)s / %(span)s AS b, MIN({x}), MAX({x}), MIN("value"), MAX("value"), '
            'COUNT("value") FROM metrics WHERE series_id = ' + _SERIES + ' GROUP BY b ORDER BY b')


def metric_buckets(store: "SqlWorkspaceStore", run_ids: list[str], key: str, axis: str = "step",
                   buckets: int = 1000) -> dict[str, list[Bucket]]:
    """For each run, the min and max value of each of `buckets` equal slices of the key's step (or timestamp)
    range, in one connection.

    Only numbers count. Buckets without one are not returned; a history of at most `buckets` distinct x
    values comes back one point per bucket.
    """
    if axis not in AXES:
        raise ValueError(f"axis must be one of {AXES}, not {axis!r}")
    buckets = max(1, min(int(buckets), 10_000))
    span_sql = _STEP_RANGE if axis == "step" else _TIME_RANGE
    bucket_sql = _BUCKETS.format(x="step" if axis == "step" else '"timestamp"')
    out: dict[str, list[Bucket]] = {}
    with _reader(store) as db:
        for run_id in run_ids:
            lo, hi = db.rows(span_sql, run=run_id, key=key)[0]
            if lo is None:
                out[run_id] = []
                continue
            span = int(hi) - int(lo) + 1
            rows = db.rows(bucket_sql, run=run_id, key=key, lo=int(lo), n=buckets if span > buckets else span,
                           span=span)
            out[run_id] = [r for r in rows if r[5]]
    return out
