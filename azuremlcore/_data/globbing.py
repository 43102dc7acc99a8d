"""Azure ML dataset path patterns ('data/*.csv', 'images/**', 'folder', 'file.csv') over '/'-separated names."""
from __future__ import annotations

import re

_GLOB_CHARS = set("*?[")


def has_glob(pattern: str) -> bool:
    """Whether the pattern contains wildcard characters."""
    return any(c in _GLOB_CHARS for c in pattern)


def normalise(pattern: str) -> str:
    """The pattern without leading './' or '/' and with '/' separators ('' means everything)."""
    text = str(pattern).replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    return text.lstrip("/")


def base_of(pattern: str) -> str:
    """The folder files of a pattern are kept relative to when copied out: its leading folders without wildcards.

    'images/**' -> 'images', 'data/*.csv' -> 'data', 'data/a.csv' -> 'data', 'data/' -> 'data'.
    """
    pattern = normalise(pattern)
    if not has_glob(pattern):
        return pattern.rstrip("/")
    parts = pattern.split("/")
    fixed = []
    for p in parts[:-1]:
        if has_glob(p):
            break
        fixed.append(p)
    return "/".join(fixed)


def static_prefix(pattern: str) -> str:
    """The longest leading text without wildcards (to narrow a blob listing)."""
    pattern = normalise(pattern)
    for i, c in enumerate(pattern):
        if c in _GLOB_CHARS:
            return pattern[:i]
    return pattern


def _regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")  # zero or more folders
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = pattern[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")


def select(names: list[str], pattern: str) -> list[str]:
    """The names a pattern selects: a glob match, else the file itself or every file under the folder."""
    pattern = normalise(pattern)
    if not pattern or pattern in (".", "**"):
        return sorted(names)
    if has_glob(pattern):
        rx = _regex(pattern)
        return sorted(n for n in names if rx.match(n))
    folder = pattern.rstrip("/") + "/"
    return sorted(n for n in names if n == pattern.rstrip("/") or n.startswith(folder))


def relative_to(name: str, base: str) -> str:
    """The name relative to a base folder ('' base keeps the name)."""
    if base and name.startswith(base.rstrip("/") + "/"):
        return name[len(base.rstrip("/")) + 1:]
    if base and name == base:
        return name.rsplit("/", 1)[-1]
    return name
