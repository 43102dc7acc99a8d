"""Summaries of a run's metric histories for charts, computed in SQL (a run may hold millions of points).

`metric_keys` lists a run's keys with their last point by index seeks (never a scan of the history);
`metric_buckets` reduces one history to the minimum and maximum of each of N equal slices of its
step or time range, so a chart of N pixels gets every extreme and at most 2N points.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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


@dataclass(frozen=True)
class Bucket:
    """The points of one slice of a history: x range, value range, how many points."""

    index: int
    x_min: int
    x_max: int
    y_min: float
    y_max: float
    count: int


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
    out = []
    with store._read() as conn:
        for row in conn.execute(_KEYS, {"run": run_id}).all():
            last = conn.execute(_LAST, {"id": row.last_id}).one()
            out.append(KeySummary(row.name, last.kind, int(row.last_id), int(last.step), last.value))
    return out


def metric_buckets(store: "SqlWorkspaceStore", run_id: str, key: str, axis: str = "step",
                   buckets: int = 1000) -> list[Bucket]:
    """The min and max value of each of `buckets` equal slices of the key's step (or timestamp) range.

    Only numbers count (NaN, strings, rows and documents have no `value`). Buckets without one are not
    returned; a history of at most `buckets` distinct x values comes back one point per bucket.
    """
    from azuremlcore._store import schema as t

    if axis not in AXES:
        raise ValueError(f"axis must be one of {AXES}, not {axis!r}")
    buckets = max(1, min(int(buckets), 10_000))
    m = t.metrics
    x = m.c[axis]
    where = (m.c.run_id == run_id, m.c.key == key)
    with store._read() as conn:
        if axis == "step":
            # Two seeks on the (run_id, key, step, timestamp) index; MIN()/MAX() would not use its order here.
            lo = conn.execute(sa.select(x).where(*where).order_by(x).limit(1)).scalar()
            hi = conn.execute(sa.select(x).where(*where).order_by(x.desc()).limit(1)).scalar()
        else:
            lo, hi = conn.execute(sa.select(sa.func.min(x), sa.func.max(x)).where(*where)).one()
        if lo is None:
            return []
        span = int(hi) - int(lo) + 1
        # Integer arithmetic in the database: bucket = (x - lo) * n // span, in [0, n). Aggregates skip NULL values.
        index = ((x - int(lo)) * buckets // span).label("b") if span > buckets else (x - int(lo)).label("b")
        q = (sa.select(index, sa.func.min(x), sa.func.max(x), sa.func.min(m.c.value), sa.func.max(m.c.value),
                       sa.func.count(m.c.value)).where(*where).group_by(sa.text("b")).order_by(sa.text("b")))
        return [Bucket(int(r[0]), int(r[1]), int(r[2]), float(r[3]), float(r[4]), int(r[5]))
                for r in conn.execute(q) if r[5]]
