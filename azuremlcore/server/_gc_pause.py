"""The cyclic garbage collector paused while a metric-history page is built (a process-wide switch, shared).

A history page of 25,000 points makes about 100,000 objects (sqlite3's row tuples, their floats and
ints, the answer's dicts) that reference counting frees as soon as the answer is encoded: none
of them is in a cycle. Left on, the collector runs 60-65 young and 5-6 middle collections during a
page: 16 % of a page's time in the server (the history2 lane's profile). Paused, the page is built
without them, and since the page's objects are freed before it is back on, no collection is owed.

The switch is process-wide (`gc.disable`): builds on the event loop and on the read-ahead worker
count themselves in, and the last one out turns the collector back on, only if it was on when the
first came in (code that turned it off itself keeps it off). Other requests answered meanwhile
allocate without cyclic collection for the page's 20-40 ms; their cycles are collected after it.
"""
from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_builds = 0
_paused = False  # whether this module turned the collector off (and so must turn it back on)


@contextmanager
def collection_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off (see the module's docstring)."""
    global _builds, _paused
    with _lock:
        _builds += 1
        if _builds == 1 and gc.isenabled():
            gc.disable()
            _paused = True
    try:
        yield
    finally:
        with _lock:
            _builds -= 1
            if _builds == 0 and _paused:
                _paused = False
                gc.enable()
