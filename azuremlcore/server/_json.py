"""JSON text for answers: orjson when installed (the server extra brings it), else the standard library."""
from __future__ import annotations

from typing import Any, Callable

try:
    import orjson

    def dumps(obj: Any) -> str:
        """Compact JSON text of obj (NaN and infinities are not expected: callers spell them as MLflow does)."""
        return orjson.dumps(obj).decode()

    def dumpb(obj: Any) -> bytes:
        """`dumps` as UTF-8 bytes (orjson's own output: no copy)."""
        return orjson.dumps(obj)
except ImportError:  # pragma: no cover - orjson comes with the server extra
    import json

    _compact: Callable[[Any], str] = json.JSONEncoder(separators=(",", ":")).encode

    def dumps(obj: Any) -> str:
        """Compact JSON text of obj."""
        return _compact(obj)

    def dumpb(obj: Any) -> bytes:
        """`dumps` as UTF-8 bytes."""
        return _compact(obj).encode()
