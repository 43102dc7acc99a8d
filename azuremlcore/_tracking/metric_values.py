"""Turning logged Python values into stored points, and stored points into `get_metrics` shapes.

Shapes follow Azure ML v1: a value logged once comes back as a scalar, logged several times as a
list in logging order; `log_list` always gives a list; rows and tables give ``{column: [values]}``
(``{column: value}`` for a single row); image metrics give the image's artifact address.
"""
from __future__ import annotations

import json
import math
from typing import Any, Iterable

from azuremlcore.exceptions import MetricValueError

MAX_NAME_LENGTH = 250
TABLE_KINDS = frozenset({"row", "table"})
JSON_KINDS = frozenset({"confusion_matrix", "accuracy_table", "residuals", "predictions"})


def check_name(name: object) -> str:
    """A metric name, or a clear error."""
    if not isinstance(name, str) or not name.strip():
        raise MetricValueError(f"Metric name must be a non-empty string, got {name!r}.")
    if len(name) > MAX_NAME_LENGTH:
        raise MetricValueError(f"Metric name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}.")
    return name


def plain(value: Any, name: str) -> Any:
    """A JSON-able value inside a document (numpy scalars unwrapped; None kept) or a clear error naming the metric."""
    from azuremlcore._tracking.metric_checks import scalar

    return scalar(value, name, missing_ok=True)


def encode(value: Any) -> tuple[float | None, str | None]:
    """(MLflow float or None, JSON of the Python value or None when the float says it all) of a checked value."""
    v = value
    if v is None:
        return None, "null"
    if isinstance(v, bool):
        return float(v), json.dumps(v)
    if isinstance(v, int):
        if abs(v) > 2 ** 63:
            return None, json.dumps(v)
        return float(v), json.dumps(v)
    if isinstance(v, float):
        return v, None
    return None, json.dumps(v)


def encode_json(value: Any, name: str) -> str:
    """JSON of a structured value (row, table row, matrix document) with numpy scalars unwrapped."""
    try:
        return json.dumps(value, default=lambda o: _json_default(o, name), allow_nan=True)
    except MetricValueError:
        raise
    except (TypeError, ValueError) as exc:
        raise MetricValueError(f"Metric '{name}' cannot be stored: {exc}") from exc


def _json_default(value: Any, name: str) -> Any:
    # numpy arrays inside a document (a confusion matrix) become lists; other values must be plain scalars.
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and getattr(value, "ndim", 0):
        return tolist()
    return plain(value, name)


def decode(value: float | None, value_json: str | None) -> Any:
    """The value as logged."""
    if value_json is not None:
        return json.loads(value_json)
    return value


def _table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if len(rows) == 1:
        return dict(rows[0])
    columns: list[str] = []
    for r in rows:
        columns.extend(c for c in r if c not in columns)
    return {c: [r.get(c) for r in rows] for c in columns}


def shape(points: Iterable[tuple[str, str, Any]]) -> dict[str, Any]:
    """`get_metrics` result from (key, kind, decoded value) in logging order."""
    grouped: dict[str, tuple[str, list[Any]]] = {}
    for key, kind, value in points:
        grouped.setdefault(key, (kind, []))[1].append(value)
    out: dict[str, Any] = {}
    for key, (kind, values) in grouped.items():
        if kind == "list":
            out[key] = values
        elif kind in TABLE_KINDS:
            out[key] = _table(values)
        elif kind in JSON_KINDS:
            out[key] = values[-1]
        else:
            out[key] = values[0] if len(values) == 1 else values
    return out


def is_finite_number(value: Any) -> bool:
    """Whether value is an int/float that is not NaN or infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
