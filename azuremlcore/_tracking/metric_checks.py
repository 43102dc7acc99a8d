"""What `run.log`, `log_list`, `log_row` and `log_table` accept, as Azure ML v1's SDK does, minus its silent stores.

Azure ML v1 stores bool, int, float and str values as they are, converts numpy scalars to them,
refuses lists in `log` ("use log_list"), lists in a row, tables that are not dicts and columns of
different lengths. Where it quietly stores something useless, these checks raise a
`MetricValueError` naming the metric instead:

- ``None`` as a value of `log` (v1 stores a typeless null that records nothing). ``None`` stays
  accepted where it means a missing cell: an element of `log_list`, a cell of `log_row`/`log_table`;
  it comes back as ``None`` and is not an MLflow metric.
- any other type (dict, bytes, an object): v1 stores its ``repr()`` string; here it is an error.
- a step that is not an integer.

Converted: numpy/torch scalars and one-element arrays (``.item()``), other real numbers
(``fractions.Fraction``) to float. NaN and ±infinity are numbers: stored and returned as such (as
in MLflow). Integers beyond 64 bits are kept exactly but are not MLflow metrics.
"""
from __future__ import annotations

import numbers
from typing import Any, Dict, List, Optional

from azuremlcore.exceptions import MetricValueError

_PLAIN = (bool, int, float, str)
_FAST = frozenset(_PLAIN)


def _describe(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def _is_sequence(value: Any) -> bool:
    """A list-like of values (list, tuple, range, set, generator, array), not a str/bytes/dict."""
    if isinstance(value, (str, bytes, bytearray, dict)):
        return False
    if getattr(value, "ndim", None) == 0:  # a 0-d array is one value
        return False
    return hasattr(value, "__iter__")


def scalar(value: Any, name: str, missing_ok: bool = False, where: Optional[str] = None,
           sequence_hint: str = "log_list") -> Any:
    """The bool, int, float or str to store for `value` (None if missing_ok and it is None), or a clear error.

    `where` names the place in messages (default "metric '<name>'"; "column 'x' of table metric 't'").
    """
    if type(value) in _FAST:  # the training-loop case, before any message is built
        return value
    where = where or f"metric '{name}'"
    if isinstance(value, _PLAIN):
        # Subclasses (IntEnum, numpy.float64 is a float subclass, str subclasses) are stored as the base type.
        return value if type(value) in _PLAIN else _base(value)
    if value is None:
        if missing_ok:
            return None
        raise MetricValueError(f"Cannot log None as {where}: log a number, bool or string (None is accepted "
                               "only as a missing element of log_list, log_row or log_table).")
    item = getattr(value, "item", None)  # numpy / torch scalars and one-element arrays
    if callable(item) and not _is_sequence_of_many(value):
        try:
            out = item()
        except (ValueError, RuntimeError, TypeError):
            out = value
        if out is not value and (isinstance(out, _PLAIN) or isinstance(out, numbers.Real)):
            return scalar(out if isinstance(out, _PLAIN) else float(out), name, missing_ok, where, sequence_hint)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, dict):
        raise MetricValueError(f"Cannot log a dict as {where}: use log_row(name, **columns) or "
                               "log_table(name, {column: [values]}) for tables.")
    if _is_sequence(value):
        raise MetricValueError(f"Cannot log {type(value).__name__} as {where}: it holds several values; use "
                               f"{sequence_hint}.")
    raise MetricValueError(f"Cannot log {_describe(value)} as {where}: log a number, bool or string (use log_list "
                           "for a list, log_table/log_row for tables, log_image for plots).")


def _base(value: Any) -> Any:
    for t in _PLAIN:  # bool before int: bool is an int subclass
        if isinstance(value, t):
            return t(value)
    return value


def _is_sequence_of_many(value: Any) -> bool:
    size = getattr(value, "size", None)
    if isinstance(size, int):  # numpy arrays; torch's size is a method
        return size != 1
    numel = getattr(value, "numel", None)
    if callable(numel):
        try:
            return int(numel()) != 1
        except Exception:  # noqa: BLE001 - not a tensor after all
            return False
    return False


def step(value: Any, name: str) -> Optional[int]:
    """The step as an int (None stays None), or a clear error for anything that is not an integer."""
    if value is None or type(value) is int:
        return value
    if not isinstance(value, bool):
        if isinstance(value, numbers.Integral):
            return int(value)
        item = getattr(value, "item", None)
        if callable(item):
            try:
                out = item()
            except (ValueError, RuntimeError, TypeError):
                out = None
            if isinstance(out, int) and not isinstance(out, bool):
                return out
    raise MetricValueError(f"The step of metric '{name}' must be an integer, got {value!r}.")


def list_values(value: Any, name: str) -> List[Any]:
    """The values of `log_list(name, value)` (any list-like; None elements are missing values)."""
    if not _is_sequence(value):
        raise MetricValueError(f"log_list('{name}', ...) needs a list of values, got {_describe(value)}.")
    return [v if type(v) in _FAST else
            scalar(v, name, True, f"element {i} of list metric '{name}'", "one log_list call per list")
            for i, v in enumerate(value)]


def row(columns: Dict[str, Any], name: str) -> Dict[str, Any]:
    """The cells of `log_row(name, **columns)`: one value per column (None is a missing cell)."""
    if not columns:
        raise MetricValueError(f"log_row('{name}') needs at least one column, e.g. log_row('{name}', x=1).")
    return {k: v if type(v) in _FAST else
            scalar(v, name, True, f"column '{k}' of row metric '{name}'", "log_table for whole columns")
            for k, v in columns.items()}


def table(value: Any, name: str) -> List[Dict[str, Any]]:
    """The rows of `log_table(name, {column: [values]})`; a column given as one value is a column of one."""
    if not isinstance(value, dict) or not value:
        raise MetricValueError(f"log_table('{name}', ...) needs a non-empty dict of column -> list of values, got "
                               f"{_describe(value) if not isinstance(value, dict) else 'an empty dict'}.")
    columns = {str(k): list(v) if _is_sequence(v) else [v] for k, v in value.items()}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise MetricValueError(f"log_table('{name}', ...): columns have different lengths "
                               f"({', '.join(f'{k}={len(v)}' for k, v in columns.items())}).")
    return [{k: v[i] if type(v[i]) in _FAST else
             scalar(v[i], name, True, f"row {i} of column '{k}' of table metric '{name}'", "one value per cell")
             for k, v in columns.items()}
            for i in range(lengths.pop())]
