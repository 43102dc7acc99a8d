"""Progress reporting for long transfers: tqdm when installed, else a plain counter on stderr.

An application may draw the bars itself (`aml` uses rich): `use_bars(make)` installs a factory
called as `make(total, desc)` that returns an object with `update(n)` and `close()`.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable

_make_bar: Callable[[int, str], Any] | None = None


def use_bars(make: Callable[[int, str], Any] | None) -> None:
    """Draw transfer progress with `make(total, desc)` from now on (None: back to tqdm or the counter)."""
    global _make_bar
    _make_bar = make


class Progress:
    """Count finished files of a transfer; silent when disabled or when there is only a file or two."""

    def __init__(self, total: int, desc: str, enabled: bool = True) -> None:
        self.total, self.desc, self.done = total, desc, 0
        self._bar: Any = None
        self._last = 0.0
        self._enabled = enabled and total > 1
        if not self._enabled:
            return
        if _make_bar is not None:
            self._bar = _make_bar(total, desc)
            return
        try:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="file", file=sys.stderr)
        except ImportError:
            sys.stderr.write(f"{desc}: {total} files\n")

    def update(self, n: int = 1) -> None:
        """Mark n more files done."""
        self.done += n
        if not self._enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        # a counter line at most twice a second keeps notebooks readable
        if now - self._last > 0.5 or self.done == self.total:
            self._last = now
            sys.stderr.write(f"\r{self.desc}: {self.done}/{self.total}")
            if self.done == self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    def close(self) -> None:
        """Finish the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
