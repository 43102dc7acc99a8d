"""Time in the store's unit (ms since the epoch) and in Azure ML's text form."""
from __future__ import annotations

import time
from datetime import datetime, timezone


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return int(time.time() * 1000)


def iso(ms: int | None) -> str | None:
    """Milliseconds since the epoch as ISO-8601 UTC text ('2026-11-28T12:00:00.123000Z'); None stays None."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
