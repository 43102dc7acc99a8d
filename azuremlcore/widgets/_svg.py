"""Small inline SVG line charts of metric histories, for notebook outputs.

Inline SVG needs no JavaScript and no CDN, so the same markup renders in Jupyter, VS Code, a saved
.ipynb opened on GitHub or nbviewer, and inside an ipywidgets ``HTML`` widget.
"""
from __future__ import annotations

import html
import math
from typing import Sequence

WIDTH, HEIGHT = 300, 90
# The right gutter holds the highest and lowest values, clear of the line.
_PAD_LEFT, _PAD_RIGHT, _PAD_Y = 4, 48, 6


def downsample(values: Sequence[float], buckets: int) -> list[tuple[int, float]]:
    """(index, value) pairs: at most ~2 points per bucket (its min and its max, in order), so spikes survive.

    Non-finite values (nan, inf) are left out: they have no place on a line.
    """
    points = [(i, float(v)) for i, v in enumerate(values) if _finite(v)]
    if len(points) <= 2 * buckets:
        return points
    size = len(points) / buckets
    out: list[tuple[int, float]] = []
    for b in range(buckets):
        chunk = points[int(b * size):int((b + 1) * size)]
        if not chunk:
            continue
        low = min(chunk, key=lambda p: p[1])
        high = max(chunk, key=lambda p: p[1])
        out.extend(sorted({low, high}))
    return out


def line_chart(values: Sequence[float], title: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    """An SVG line chart of a metric's values against their index (the order they were logged)."""
    points = downsample(values, max(1, (width - _PAD_LEFT - _PAD_RIGHT) // 2))
    label = html.escape(title)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{label}" class="aml-chart">'
            f'<title>{label}</title>'
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fafafa" stroke="#ddd"/>')
    if not points:
        return head + (f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" font-size="11" '
                       f'fill="#888">no numeric values</text></svg>')
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if y0 == y1:  # a flat line sits in the middle rather than on an edge
        y0, y1 = y0 - 1, y1 + 1
    span_x = max(x1 - x0, 1)
    inner_w = width - _PAD_LEFT - _PAD_RIGHT
    inner_h = height - 2 * _PAD_Y

    def xy(i: int, v: float) -> str:
        x = _PAD_LEFT + (i - x0) / span_x * inner_w
        y = _PAD_Y + (1 - (v - y0) / (y1 - y0)) * inner_h
        return f"{x:.1f},{y:.1f}"

    body = " ".join(xy(i, v) for i, v in points)
    if len(points) == 1:
        marker = xy(*points[0]).split(",")
        line = f'<circle cx="{marker[0]}" cy="{marker[1]}" r="3" fill="#0078d4"/>'
    else:
        line = f'<polyline fill="none" stroke="#0078d4" stroke-width="1.5" points="{body}"/>'
    return (head + line
            + f'<text x="{width - 3}" y="{_PAD_Y + 4}" text-anchor="end" font-size="9" fill="#666">'
              f'{_fmt(max(ys))}</text>'
            + f'<text x="{width - 3}" y="{height - _PAD_Y}" text-anchor="end" font-size="9" fill="#666">'
              f'{_fmt(min(ys))}</text></svg>')


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _fmt(v: float) -> str:
    return html.escape(f"{v:.4g}")
