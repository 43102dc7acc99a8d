"""What the MLflow bridge does inside a submitted run's processes (``AZUREML_RUN_ID`` set).

- Exit: SIGTERM (cancel, time limit) ends the script as an exception would (`job_signals.install`),
  and MLflow's async-logging queue is drained *before* the interpreter stops its thread pools. MLflow
  drains it from an `atexit` handler, which runs after `concurrent.futures` has refused new work, so
  the last `log_metric(..., synchronous=False)` calls of a script would be dropped ("cannot schedule
  new futures after interpreter shutdown").
- Autolog: an autologging integration that finds no active run starts one around `fit` (which
  resumes the job's run through MLFLOW_RUN_ID) and ends it afterwards; MLflow then forgets
  MLFLOW_RUN_ID, and the script's own next `mlflow.log_metric` would start a new run. When such an
  autolog-managed job run ends, MLFLOW_RUN_ID is set again, so the script's metrics keep landing in
  the job's run. Runs the script itself starts and ends keep MLflow's behaviour (the next top-level
  run is a new run, a child of the job's run).
"""
from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from typing import Any, Iterable, Optional

_log = logging.getLogger(__name__)

JOB_RUN_ENV = "AZUREML_RUN_ID"
MLFLOW_RUN_ENV = "MLFLOW_RUN_ID"
AUTOLOG_TAG = "mlflow.autologging"  # the tag MLflow's autologging puts on the runs it starts (mlflow_tags.MLFLOW_AUTOLOGGING)

_lock = threading.Lock()
_prepared = False
_autolog_holds_job_run = False


def job_run_id() -> Optional[str]:
    """The submitted run this process belongs to, or None outside a job."""
    return os.environ.get(JOB_RUN_ENV) or None


def prepare_process() -> None:
    """In a job process, once: SIGTERM handling and the early drain of MLflow's async queue."""
    global _prepared
    if job_run_id() is None:
        return
    with _lock:
        if _prepared:
            return
        _prepared = True
    from azuremlcore._tracking import job_signals

    job_signals.install()
    _register_early_drain()


def _register_early_drain() -> None:
    # concurrent.futures registers its exit hook on import; ours, registered after it, runs before it
    # (both lists of exit hooks run last-registered first).
    import concurrent.futures.thread  # noqa: F401

    register = getattr(threading, "_register_atexit", None)  # Python 3.9+: where concurrent.futures registers
    try:
        if register is not None:
            register(_drain_mlflow_async)
        else:  # Python 3.8: concurrent.futures uses atexit itself
            atexit.register(_drain_mlflow_async)
    except RuntimeError:  # the interpreter is already shutting down
        pass


def _drain_mlflow_async() -> None:
    mlflow = sys.modules.get("mlflow")
    if mlflow is None:
        return
    try:
        from mlflow.tracking._tracking_service.utils import _get_store

        store = _get_store()
    except Exception:  # noqa: BLE001 - no store could be built, so nothing was logged through one
        return
    # What MLflow's own exit hook does (stop the queue's thread once it has handed everything to the pool,
    # then wait for the pool), done while the pool still takes work. Private names: when they move, the
    # public flush below does the same job (it restarts the queue, costing up to 1 s more at exit).
    queue = getattr(store, "_async_logging_queue", None)
    stop = getattr(queue, "_at_exit_callback", None)
    is_active = getattr(queue, "is_active", None)
    try:
        if callable(stop) and callable(is_active):
            if is_active():
                stop()
            return
        flush = getattr(mlflow, "flush_async_logging", None)
        if flush is not None:
            flush()
    except Exception as exc:  # noqa: BLE001 - exiting anyway; say what may be lost
        _log.warning("azuremlcore: MLflow's asynchronously logged values may not all be stored: %s", exc)


def note_run_status(run_id: str, status: Any) -> None:
    """MLflow set a run's status: a job run that autologging started and now ends is made resumable again."""
    global _autolog_holds_job_run
    if run_id != job_run_id():
        return
    from mlflow.entities import RunStatus

    if status is None:
        return
    if _as_status(status, RunStatus) == RunStatus.RUNNING:
        _autolog_holds_job_run = False  # (re)started; its tags tell next whether autologging started it
    elif _autolog_holds_job_run:
        _autolog_holds_job_run = False
        os.environ[MLFLOW_RUN_ENV] = run_id


def note_run_tags(run_id: str, keys: Iterable[str]) -> None:
    """MLflow set tags on a run: the autologging tag on the job's run means autologging (re)started it."""
    global _autolog_holds_job_run
    if run_id == job_run_id() and AUTOLOG_TAG in keys:
        _autolog_holds_job_run = True


def _as_status(status: Any, run_status: Any) -> Any:
    if isinstance(status, str):
        try:
            return run_status.from_string(status)
        except Exception:  # noqa: BLE001 - an unknown name is not RUNNING
            return None
    return status
