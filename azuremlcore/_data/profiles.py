"""Dataset profiles: per-column summary statistics computed with pandas, and comparing two of them."""
from __future__ import annotations

import math
from typing import Any

_NUMERIC_STATS = ("min", "max", "mean", "std")


def _plain(value: Any) -> Any:
    """A JSON-able Python value (numpy scalars and timestamps converted, NaN as None)."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (int, float, str, bool)):
        return value
    return str(value)


def compute(df: Any) -> dict[str, Any]:
    """Row count and, per column: type, count, missing, unique, and min/max/mean/std for numeric columns."""
    columns: dict[str, Any] = {}
    for name in df.columns:
        col = df[name]
        stats: dict[str, Any] = {"type": str(col.dtype), "count": int(col.count()),
                                 "missing": int(col.isna().sum()), "unique": int(col.nunique(dropna=True))}
        kind = col.dtype.kind
        if kind in "iuf" and stats["count"]:
            stats.update(min=_plain(col.min()), max=_plain(col.max()), mean=_plain(col.mean()),
                         std=_plain(col.std()) if stats["count"] > 1 else None)
        elif kind in "bOSUMm" and stats["count"]:
            try:  # strings and datetimes order; mixed object columns may not
                stats.update(min=_plain(col.dropna().min()), max=_plain(col.dropna().max()))
            except TypeError:
                pass
        columns[str(name)] = stats
    return {"row_count": int(len(df)), "columns": columns}


def compare(lhs: dict[str, Any], rhs: dict[str, Any], include: list[str] | None,
            exclude: list[str] | None) -> dict[str, Any]:
    """What differs between two profiles: row counts, columns on one side only, per-column stat changes."""
    left, right = lhs["columns"], rhs["columns"]
    names = [c for c in dict.fromkeys([*left, *right]) if (include is None or c in include)
             and not (exclude and c in exclude)]
    per_column: dict[str, Any] = {}
    for name in names:
        if name not in left or name not in right:
            continue
        a, b = left[name], right[name]
        changes = {}
        for stat in sorted(set(a) | set(b)):
            if a.get(stat) != b.get(stat):
                delta = None
                if stat in ("count", "missing", "unique", *_NUMERIC_STATS) and \
                        isinstance(a.get(stat), (int, float)) and isinstance(b.get(stat), (int, float)):
                    delta = b[stat] - a[stat]
                changes[stat] = {"lhs": a.get(stat), "rhs": b.get(stat), "difference": delta}
        per_column[name] = changes
    return {"row_count": {"lhs": lhs["row_count"], "rhs": rhs["row_count"],
                          "difference": rhs["row_count"] - lhs["row_count"]},
            "columns_only_in_lhs": [c for c in names if c in left and c not in right],
            "columns_only_in_rhs": [c for c in names if c in right and c not in left],
            "column_differences": per_column}
