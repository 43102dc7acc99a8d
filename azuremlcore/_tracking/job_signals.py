"""SIGTERM in a job ends the script as an exception would, so that its exit handlers store what it logged.

The runner stops a script (`run.cancel()`, `max_run_duration_seconds`) with SIGTERM to its process
group, waits a grace period, then SIGKILLs it. Python's default SIGTERM action ends the process on
the spot: no `finally`, no context manager exit, no `atexit` handler, so metrics still queued in
this SDK's writer or in MLflow's async-logging queue would be lost. `install()` makes SIGTERM raise
``SystemExit(143)`` in the main thread instead; the interpreter then exits as after an uncaught
exception and runs those handlers.

`_startup.run_hooks()` calls `install()` at the start of a job's main script process;
`Run.get_context()` and the MLflow bridge call it too (a script started another way, e.g. by a
shell command, is covered as soon as it logs). Kept import-cheap and Python 3.8 compatible.
"""
from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Optional

# What a shell reports for a process ended by SIGTERM (128 + 15).
EXIT_CODE = 128 + int(signal.SIGTERM)
_stopping = False


def install() -> bool:
    """Make SIGTERM end this process as ``SystemExit(143)`` would; True when that handler is in place.

    Only from the main thread (Python's rule for signal handlers), and only while SIGTERM still has
    its default action: a handler the script or one of its libraries set is left alone. Calling it
    again is cheap and changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current is _on_sigterm:
            return True
        if current is not signal.SIG_DFL:
            return False
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):  # no signals here (an embedded interpreter, another platform)
        return False
    return True


def installed() -> bool:
    """Whether SIGTERM is handled by `install()`'s handler in this process."""
    try:
        return signal.getsignal(signal.SIGTERM) is _on_sigterm
    except (ValueError, AttributeError):
        return False


def _on_sigterm(signum: int, frame: Optional[FrameType]) -> None:
    global _stopping
    if _stopping:
        # Already on the way out: a second SIGTERM must not interrupt the exit handlers that store the
        # metrics (the runner's SIGKILL after its grace period still ends a process that hangs).
        return
    _stopping = True
    try:
        sys.stderr.write("azuremlcore: SIGTERM received (the run was canceled or ran out of time); stopping "
                         "after storing the logged metrics.\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - a closed stderr must not stop the exit
        pass
    raise SystemExit(EXIT_CODE)
