"""Per-client rate limits for the routes anyone may call (token, device code, the device page).

A token bucket per (route, client address): `capacity` requests at once, refilled at `per_minute`.
Buckets that have refilled completely carry no information and are dropped, so memory stays bounded
by the clients active in the last minute or so, and a hard cap sheds the oldest beyond that.
Behind a reverse proxy every client shares the proxy's address: raise the limits accordingly.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

_MAX_BUCKETS = 100_000


@dataclass(frozen=True)
class Limit:
    """At most `capacity` requests in a burst, refilled at `per_minute` requests a minute."""

    capacity: int
    per_minute: float


class RateLimiter:
    """Token buckets keyed by (name, client); `allow` answers whether a request may go on now."""

    def __init__(self, limits: dict[str, Limit], clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.limits, self._clock = limits, clock
        self._lock = threading.Lock()
        self._buckets: "OrderedDict[tuple[str, str], tuple[float, float]]" = OrderedDict()
        self._last_purge = clock()

    def allow(self, name: str, client: str) -> float:
        """0 when the request may go on (and is counted), else the seconds until one may."""
        limit = self.limits.get(name)
        if limit is None:
            return 0.0
        rate = limit.per_minute / 60.0
        now = self._clock()
        key = (name, client)
        with self._lock:
            tokens, seen = self._buckets.pop(key, (float(limit.capacity), now))
            tokens = min(float(limit.capacity), tokens + (now - seen) * rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / rate
            self._buckets[key] = (tokens, now)
            if now - self._last_purge > 60 or len(self._buckets) > _MAX_BUCKETS:
                self._purge(now)
        return wait

    def _purge(self, now: float) -> None:
        # Drop buckets that are full again (the same as never seen), then the oldest beyond the cap.
        self._last_purge = now
        for key, (tokens, seen) in list(self._buckets.items()):
            limit = self.limits[key[0]]
            if tokens + (now - seen) * limit.per_minute / 60.0 >= limit.capacity:
                del self._buckets[key]
        while len(self._buckets) > _MAX_BUCKETS:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)
