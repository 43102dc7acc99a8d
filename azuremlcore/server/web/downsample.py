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


def buckets_for_width(width: int | None) -> int:
    """How many buckets a chart of `width` CSS pixels needs (one per pixel, bounded)."""
    return max(16, min(int(width or 800), MAX_WIDTH))


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
