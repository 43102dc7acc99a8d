"""Series for charts: a history reduced to its minimum and maximum per pixel column (extremes kept).

The database does the reduction (`_store.metric_views.metric_buckets`): a history of 100k steps on a
chart 800 pixels wide comes back as at most 1,600 points, the low and the high of each column, so a
spike or a dip of one step still shows. Here the buckets become uPlot's `[xs, ys]` arrays.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from azuremlcore._store.metric_views import Bucket

MAX_WIDTH = 4000
# An overlay of many runs gets fewer buckets per run: at most this many in all (a line of 200 overlaid
# needs far fewer than a chart of its own).
OVERLAY_BUDGET = 50_000


class SeriesCache:
    """Reduced series by (run, key, axis, buckets, id of the key's last point): a history that gained a point
    has a new last id, so an entry is never stale; least recently used entries go first."""

    def __init__(self, size: int = 512) -> None:
        import threading
        from collections import OrderedDict

        self._items: "OrderedDict[tuple, tuple[list[float], list[float]]]" = OrderedDict()
        self._size, self._lock = size, threading.Lock()

    def get(self, key: tuple) -> tuple[list[float], list[float]] | None:
        """The cached series, or None."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: tuple, series: tuple[list[float], list[float]]) -> None:
        """Remember a series."""
        with self._lock:
            self._items[key] = series
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def buckets_for_width(width: int | None, series: int = 1) -> int:
    """How many buckets per series a chart of `width` CSS pixels needs (one per pixel, bounded; fewer when
    many series share the chart)."""
    n = max(16, min(int(width or 800), MAX_WIDTH))
    return n if series <= 1 else max(16, min(n, OVERLAY_BUDGET // series))


def to_series(buckets: Iterable["Bucket"], time_axis: bool = False) -> tuple[list[float], list[float]]:
    """uPlot's arrays for buckets: one point for a bucket of one value, else its min then its max.

    The min is placed at the bucket's first x and the max at its last, so x never decreases; on the time
    axis x is in seconds (uPlot's unit), else the step.
    """
    scale = 0.001 if time_axis else 1
    xs: list[float] = []
    ys: list[float] = []
    for _, x_min, x_max, y_min, y_max, count in buckets:
        if not (math.isfinite(y_min) and math.isfinite(y_max)):
            continue  # an infinity has no place on a chart (JSON cannot carry it either)
        if count == 1 or y_min == y_max:
            xs.append(x_min * scale)
            ys.append(y_min)
        else:
            xs += [x_min * scale, x_max * scale]
            ys += [y_min, y_max]
    return xs, ys


def min_max(points: list[tuple[float, float]], n: int) -> tuple[list[float], list[float]]:
    """The same reduction in Python, for points already in memory (x ascending): tests compare against it."""
    if not points:
        return [], []
    lo, hi = points[0][0], points[-1][0]
    span = hi - lo + 1
    groups: dict[int, list[tuple[float, float]]] = {}
    for x, y in points:
        groups.setdefault(int((x - lo) * n // span) if span > n else int(x - lo), []).append((x, y))
    xs: list[float] = []
    ys: list[float] = []
    for _, g in sorted(groups.items()):
        ymin, ymax = min(p[1] for p in g), max(p[1] for p in g)
        if len(g) == 1 or ymin == ymax:
            xs.append(g[0][0])
            ys.append(ymin)
        else:
            xs += [min(p[0] for p in g), max(p[0] for p in g)]
            ys += [ymin, ymax]
    return xs, ys
