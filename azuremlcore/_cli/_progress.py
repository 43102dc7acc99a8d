"""Progress for long work, drawn with rich on stderr: bars for file transfers, a spinner while waiting.

Shown only on a terminal and never with --only-show-errors, so piped and scripted output stays
clean. rich is imported on first use, never for `aml --help`.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Iterator


def shown(args: argparse.Namespace) -> bool:
    """Whether this command draws progress: stderr is a terminal and --only-show-errors is off."""
    return sys.stderr.isatty() and not getattr(args, "only_show_errors", False)


class _Bar:
    """One rich progress bar: the SDK's transfers call update(n) and close()."""

    def __init__(self, total: int, desc: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("files"), TimeElapsedColumn(), console=Console(stderr=True))
        self._progress.start()
        self._task = self._progress.add_task(desc, total=total)

    def update(self, n: int = 1) -> None:
        self._progress.advance(self._task, n)

    def close(self) -> None:
        self._progress.stop()


@contextlib.contextmanager
def transfer_bars(args: argparse.Namespace) -> Iterator[bool]:
    """Within the block the SDK draws its upload/download progress with rich; yields whether to show it."""
    from azuremlcore._data.progress import use_bars

    show = shown(args)
    if show:
        use_bars(_Bar)
    try:
        yield show
    finally:
        use_bars(None)


@contextlib.contextmanager
def spinner(args: argparse.Namespace, text: str, stdout_passthrough: bool = False) -> Iterator[None]:
    """A spinner with elapsed time on stderr while the block runs.

    With `stdout_passthrough` (a run's log streamed to stdout meanwhile) it is drawn only when stdout
    is the same terminal, and the log lines are printed above it.
    """
    if not shown(args) or (stdout_passthrough and not sys.stdout.isatty()):
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    # The run's log passes through this console: printed as it is (no markup, colouring, emoji or wrapping).
    console = Console(stderr=True, markup=False, highlight=False, emoji=False, soft_wrap=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True, redirect_stdout=stdout_passthrough, redirect_stderr=False) as progress:
        progress.add_task(text, total=None)
        yield

