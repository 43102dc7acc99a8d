"""Printing a command's result as the az CLI does: `--query` (JMESPath) first, then `--output`.

* table: readable columns (each command names its own; a queried result gets columns from its keys);
* json / jsonc: indented JSON (jsonc coloured);
* tsv: one line per item, its scalar values separated by tabs (nested values left out), for shell scripts;
* yaml; none: nothing.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from azuremlcore._cli._base import CLIError

_KEY, _STR, _NUM, _LIT, _RESET = "\x1b[94m", "\x1b[32m", "\x1b[36m", "\x1b[35m", "\x1b[0m"


def plain(data: Any) -> Any:
    """The result as JSON types only (paths, datetimes and the like become strings)."""
    return json.loads(json.dumps(data, default=str))


def query(data: Any, expression: str) -> Any:
    """Apply a JMESPath expression; a CLIError (status 2) explains a malformed one."""
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.search(expression, data)
    except JMESPathError as exc:
        raise CLIError(f"--query {expression!r} is not valid JMESPath: {' '.join(str(exc).split())}", code=2) from None


def render(data: Any, fmt: str, columns: Sequence[tuple[str, str]] | None = None) -> str:
    """The text to print for `data` in format `fmt` ('' prints nothing)."""
    if fmt == "none" or data is None:
        return ""
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False)
    if fmt == "jsonc":
        return _coloured(data, 0)
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True).rstrip("\n")
    if fmt == "tsv":
        return "\n".join(_tsv_lines(data))
    return _table(data, columns)


# ---------------------------------------------------------------------- table
def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def _get(item: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(item, dict):
            return None
        item = item.get(part)
    return item


def _table(data: Any, columns: Sequence[tuple[str, str]] | None) -> str:
    if not isinstance(data, (dict, list)):
        return _cell(data)
    rows = data if isinstance(data, list) else [data]
    if not rows:
        return ""
    if not all(isinstance(r, dict) for r in rows):
        return _grid(["Result"], [[_cell(r)] for r in rows])
    if columns:
        return _grid([h for h, _ in columns], [[_cell(_get(r, k)) for _, k in columns] for r in rows])
    # No columns named (a queried result): its scalar keys, in first-seen order, headed as the az CLI does.
    keys: list[str] = []
    for r in rows:
        keys += [k for k, v in r.items() if k not in keys and not isinstance(v, (dict, list))]
    return _grid([_header(k) for k in keys], [[_cell(r.get(k)) for k in keys] for r in rows])


def _header(key: str) -> str:
    return key[:1].upper() + key[1:]


def _grid(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


# ---------------------------------------------------------------------- tsv
def _tsv_lines(data: Any) -> list[str]:
    # a list is one line per item (an item that is itself a list is one tab-separated line)
    return [_tsv_row(item) for item in data] if isinstance(data, list) else [_tsv_row(data)]


def _tsv_row(item: Any) -> str:
    if isinstance(item, dict):
        return "\t".join(_tsv_value(v) for v in item.values() if not isinstance(v, (dict, list)))
    if isinstance(item, list):
        return "\t".join(_tsv_value(v) for v in item if not isinstance(v, (dict, list)))
    return _tsv_value(item)


def _tsv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# ---------------------------------------------------------------------- jsonc
def _coloured(data: Any, depth: int) -> str:
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(data, dict):
        if not data:
            return "{}"
        items = [f"{inner}{_KEY}{json.dumps(k, ensure_ascii=False)}{_RESET}: {_coloured(v, depth + 1)}"
                 for k, v in data.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(data, list):
        if not data:
            return "[]"
        return "[\n" + ",\n".join(f"{inner}{_coloured(v, depth + 1)}" for v in data) + f"\n{pad}]"
    text = json.dumps(data, ensure_ascii=False)
    colour = _STR if isinstance(data, str) else _LIT if data is None or isinstance(data, bool) else _NUM
    return f"{colour}{text}{_RESET}"
