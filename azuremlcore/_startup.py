"""Start-of-process hooks for jobs and opted-in interpreters (kept import-cheap: it runs in every process).

Called from the ``.pth`` file the SDK writes into the environments it builds (and that
``aml alias enable`` writes into a chosen interpreter), and from the bootstrap the runner uses for
user-managed environments. It reads environment variables only; each hook imports its machinery
when, and only when, it is switched on. A hook never raises: a broken hook must not stop Python.
"""
from __future__ import annotations

import os

# The names live in a leaf module (the runner and the environment builder import them, not this hook).
from azuremlcore._startup_names import ALIAS_ENV, JOB_MAIN_ENV, PTH_LINE  # noqa: F401


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def run_hooks() -> None:
    """Install what the environment variables ask for: the `azureml` alias, and a job's exit handling."""
    try:
        if _truthy(os.environ.get(ALIAS_ENV)):
            from azuremlcore import _alias

            _alias.install()
    except Exception:  # noqa: BLE001 - never break interpreter start-up
        pass
    try:
        if os.environ.pop(JOB_MAIN_ENV, None):
            from azuremlcore._tracking import job_signals

            job_signals.install()
    except Exception:  # noqa: BLE001 - never break interpreter start-up
        pass
