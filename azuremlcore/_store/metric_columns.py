"""Spool records as columns turned into the rows the store inserts, with as little Python per point as possible.

The SDK's `run.log` into a server sends records of up to 25,000 points as columns. Built into one
`MetricPoint` per point and then one tuple per point, they cost the server about 5 µs a point; here a
record whose points need no per-point care (one kind, no NaN, no missing value, no `value_json`)
becomes an iterator the driver consumes (`zip` and `map` run in C), and its latest point per key is
found by `max` over zipped columns. Other records take the general path: a tuple per point.
"""
from __future__ import annotations

import math
from itertools import compress, repeat
from typing import Any, Iterable, Iterator, Optional, Sequence

from azuremlcore._store.records import MetricColumns

# Kinds whose points can be a run's latest value of a key (MLflow's metrics), as latest_metrics keeps them.
LATEST_KINDS = frozenset({"scalar", "list"})
# Past this many keys in one record, finding each key's latest point by a pass per key costs more than a loop.
_MAX_KEYS_BY_PASS = 16


def keys_of(record: MetricColumns) -> set[str]:
    """The metric names a record holds."""
    return {record.key} if isinstance(record.key, str) else set(record.key)


def points_of(key: Any, kind: Any, value: list[Any], value_json: Any, step: list[int],
              timestamp: list[int]) -> Iterator[tuple]:
    """(key, kind, value, value_json, step, timestamp) per point of a record's columns, where `key`, `kind`
    and `value_json` may be one value for every point (a list otherwise); values as the record holds them."""
    n = len(value)

    def each(column: Any) -> Iterable[Any]:
        return column if isinstance(column, list) else repeat(column, n)

    return zip(each(key), each(kind), value, each(value_json), step, timestamp)


def point_rows(run_id: str, record: MetricColumns) -> list[tuple]:
    """metrics rows (run_id, key, kind, value, is_nan, value_json, step, timestamp), one tuple per point."""
    rows = []
    for key, kind, v, vj, step, ts in points_of(record.key, record.kind, record.value, record.value_json,
                                                record.step, record.timestamp):
        nan = v is not None and v != v
        rows.append((run_id, key, kind, 0.0 if nan else v, nan, vj, step, ts))
    return rows


def plain_columns(run_id: str, record: MetricColumns, keys_held: set[str], series: dict[str, int]
                  ) -> Optional[tuple[tuple[Iterable[Any], ...], bool, list[tuple], dict[str, tuple[int, int]]]]:
    """(the points as columns for the store's write, whether those are the plain columns (series_id, value, step,
    timestamp) of `scalar` points or all of them (series_id, kind, value, is_nan, value_json, step, timestamp),
    the latest point of each key as a metrics row, each key's highest (step, timestamp) as `highest` gives it)
    for a record that needs no per-point care; None when it does (use `point_rows`).

    keys_held is `keys_of(record)` (the caller has it already).
    """
    if not isinstance(record.kind, str) or record.value_json is not None:
        return None
    n = len(record.value)
    try:
        if any(map(math.isnan, record.value)):
            return None
    except TypeError:  # a value is None (a kind without a float)
        return None
    single = isinstance(record.key, str)
    keys = None if single else record.key
    if len(keys_held) > _MAX_KEYS_BY_PASS:
        return None
    ids = repeat(series[record.key], n) if single else map(series.__getitem__, keys)  # type: ignore[index, arg-type]
    plain = record.kind == "scalar"
    columns: tuple[Iterable[Any], ...] = (ids, record.value, record.step, record.timestamp) if plain else (
        ids, repeat(record.kind, n), record.value, repeat(False, n), repeat(None, n), record.step, record.timestamp)
    latest: list[tuple] = []
    if record.kind in LATEST_KINDS and n:
        # Rank as latest_metrics does (step, timestamp, value; NaN is absent here); the index last, so that a tie
        # goes to the later point.
        ranked = zip(record.step, record.timestamp, record.value, range(n))
        for key in sorted(keys_held):
            picked = ranked if single else compress(zip(record.step, record.timestamp, record.value, range(n)),
                                                     map(key.__eq__, keys))  # type: ignore[arg-type]
            step, ts, value, _ = max(picked)
            latest.append((run_id, key, record.kind, value, False, None, step, ts))
        # Every point ranked for its key's latest: the latest's (step, timestamp) is the key's highest.
        return columns, plain, latest, {row[1]: (row[6], row[7]) for row in latest}
    return columns, plain, latest, highest(record.key, record.step, record.timestamp)


def highest(key: Any, step: Sequence[int], timestamp: Sequence[int]) -> dict[str, tuple[int, int]]:
    """Each key's highest (step, timestamp) among points given as columns (`key` one name for every point, or a
    list): what `metric_series.hi_step, hi_timestamp` must reach once they are stored."""
    if not step:
        return {}
    if isinstance(key, str):
        return {key: max(zip(step, timestamp))}
    held = set(key)
    if len(held) == 1:
        return {key[0]: max(zip(step, timestamp))}
    if len(held) <= _MAX_KEYS_BY_PASS:
        return {k: max(compress(zip(step, timestamp), map(k.__eq__, key))) for k in held}
    best: dict[str, tuple[int, int]] = {}
    for k, rank in zip(key, zip(step, timestamp)):
        old = best.get(k)
        if old is None or rank > old:
            best[k] = rank
    return best
