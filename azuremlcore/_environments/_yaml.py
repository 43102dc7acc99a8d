"""A tiny reader/writer for the conda environment YAML subset, used when PyYAML is not installed.

Conda environment files only use: top-level ``key: scalar`` pairs, top-level lists of scalars
(``channels``, ``dependencies``), one nested mapping ``- pip:`` holding a list of scalars, and a
``variables`` mapping. PyYAML is used whenever it can be imported; this module is the fallback so
that ``import azuremlcore`` never needs it.
"""
from __future__ import annotations

import json
import re
from typing import Any

# A plain (unquoted) scalar that YAML reads back as the same string: starts with a safe character,
# holds no ": " or " #" (mapping / comment markers) and does not look like a bool, null or number.
_SAFE_PLAIN = re.compile(r"^[A-Za-z0-9_./=<>~+\-][^\n]*$")
_NON_STRING = re.compile(
    r"^(?:true|false|yes|no|on|off|null|~|y|n|[-+]?(?:\d[\d_]*)?(?:\.\d*)?(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+|0o[0-7]+)$",
    re.IGNORECASE,
)


def quote(value: Any) -> str:
    """Render one scalar so that any YAML parser reads back exactly ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    if (
        text
        and _SAFE_PLAIN.match(text)
        and ": " not in text
        and " #" not in text
        and not text.endswith((":", " "))
        and not text.startswith(("- ", "-\t"))
        and text != "-"
        and not _NON_STRING.match(text)
    ):
        return text
    return json.dumps(text)  # JSON strings are valid double-quoted YAML scalars


def _scalar(token: str) -> Any:
    token = token.strip()
    if not token:
        return None
    if token[0] == '"':
        return json.loads(token)
    if token[0] == "'":
        return token[1:-1].replace("''", "'")
    low = token.lower()
    if low in ("null", "~"):
        return None
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if re.fullmatch(r"[-+]?\d+", token):
        return int(token)
    if re.fullmatch(r"[-+]?\d*\.\d+(?:[eE][-+]?\d+)?", token):
        return float(token)
    return token


def _strip_comment(line: str) -> str:
    """Drop a trailing ``# comment`` that is not inside quotes."""
    quote_char = ""
    for i, ch in enumerate(line):
        if quote_char:
            if ch == quote_char:
                quote_char = ""
        elif ch in "\"'":
            quote_char = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _parse_flow_list(token: str) -> list[Any]:
    inner = token.strip()[1:-1].strip()
    return [_scalar(part) for part in inner.split(",")] if inner else []


def loads(text: str) -> dict[str, Any]:
    """Parse a conda environment file (the subset described in the module doc) into a dict."""
    lines = []
    for raw in text.splitlines():
        stripped = _strip_comment(raw)
        if stripped.strip() and stripped.strip() != "---":
            lines.append((len(stripped) - len(stripped.lstrip(" ")), stripped.strip()))
    result: dict[str, Any] = {}
    i = 0

    def parse_block(start: int, base_indent: int) -> tuple[Any, int]:
        """Parse the list or mapping that starts at lines[start] (indent >= base_indent)."""
        if start >= len(lines) or lines[start][0] < base_indent:
            return None, start
        indent, content = lines[start]
        if content.startswith("- ") or content == "-":
            items: list[Any] = []
            j = start
            while j < len(lines) and lines[j][0] == indent and (lines[j][1].startswith("- ") or lines[j][1] == "-"):
                item = lines[j][1][1:].strip()
                m = re.match(r"^([^\"'\s][^:]*):(?:\s+(.*))?$", item)
                if m:
                    key, rest = m.group(1).strip(), (m.group(2) or "").strip()
                    if rest:
                        items.append({key: _parse_flow_list(rest) if rest.startswith("[") else _scalar(rest)})
                        j += 1
                    else:
                        sub, j = parse_block(j + 1, indent + 1)
                        items.append({key: sub if sub is not None else []})
                else:
                    items.append(_parse_flow_list(item) if item.startswith("[") else _scalar(item))
                    j += 1
            return items, j
        mapping: dict[str, Any] = {}
        j = start
        while j < len(lines) and lines[j][0] == indent and not lines[j][1].startswith("- "):
            key, _, rest = lines[j][1].partition(":")
            rest = rest.strip()
            if rest:
                mapping[_scalar(key)] = _parse_flow_list(rest) if rest.startswith("[") else _scalar(rest)
                j += 1
            else:
                # A list may sit at the same indent as its key ("dependencies:\n- x"), as conda writes it.
                if j + 1 < len(lines) and lines[j + 1][0] == indent and lines[j + 1][1].startswith("-"):
                    sub, j = parse_block(j + 1, indent)
                else:
                    sub, j = parse_block(j + 1, indent + 1)
                mapping[_scalar(key)] = sub
        return mapping, j

    parsed, i = parse_block(0, 0)
    if i < len(lines):
        raise ValueError(f"cannot parse line {i + 1} of the conda file: {lines[i][1]!r}")
    if parsed is None:
        return result
    if not isinstance(parsed, dict):
        raise ValueError("a conda environment file must be a mapping (name:, channels:, dependencies:)")
    return parsed


def safe_load(text: str) -> Any:
    """Parse YAML text with PyYAML when available, else with the conda-subset parser above."""
    try:
        import yaml  # imported lazily: PyYAML is optional
    except ImportError:
        return loads(text)
    return yaml.safe_load(text)
