"""MLflow logging of a job's run on a workspace server, through the run's spool (see `azuremlcore._tracking.spool`).

Inside a submitted run (``AZUREML_RUN_ID``), the metrics, params and plain tags MLflow logs to the
job's own run are appended to the run's spool and sent by the SDK's spool sender, as `run.log`
values are: an unreachable server costs neither values nor an exception in the script, and what is
left at exit is finished by `aml sync`. A synchronous call returns once the server has stored it
(or was found unreachable); a `synchronous=False` call returns at once, and the sender sends the
calls queued meanwhile together, one request instead of one per call. MLflow's own tags
(`mlflow.*`, which the server may act on) and other runs go straight to the server, as before.
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Optional

from azuremlmlflow import _job

# A synchronous call waits at most this long for the server; then it returns (the values are on disk).
_WAIT_S = 10.0


def _sender() -> Any:
    from azuremlcore._tracking.spool_sender import sender_for, spooled
    from azuremlcore.run import Run

    run = Run.get_context()
    store = getattr(run, "_store", None)
    if store is None or not spooled(store):
        return None
    return sender_for(store, run._artifacts)


def applies(run_id: str) -> bool:
    """Whether MLflow's logging to this run goes through the spool (the job's own run on a server)."""
    from azuremlcore._tracking.spool import spool_enabled

    return run_id == _job.job_run_id() and spool_enabled()


def split_tags(tags: Iterable[Any]) -> tuple[list[Any], list[Any]]:
    """(tags the spool carries, MLflow's own `mlflow.*` tags that go to the server directly)."""
    plain, own = [], []
    for t in tags or ():
        (own if t.key.startswith("mlflow.") else plain).append(t)
    return plain, own


def log(run_id: str, metrics: Iterable[Any], params: Iterable[Any], tags: Iterable[Any], wait: bool) -> bool:
    """Spool one MLflow batch (metrics, params, plain tags); False when the spool is off for this process.

    With `wait`, returns once the server stored it or was found unreachable, and raises MLflow's
    INVALID_PARAMETER_VALUE for a value the server refused (a param changed).
    """
    sender = _sender()
    if sender is None:
        return False
    from azuremlcore._tracking.spool import encode_value

    now = int(time.time() * 1000)
    rows = [[m.key, "scalar", encode_value(float(m.value)), None, int(m.step or 0),
             int(m.timestamp if m.timestamp is not None else now)] for m in metrics or ()]
    if rows:
        # "unique": MLflow's semantics, a point identical to a stored one (a retried call) is not stored twice.
        sender.append(run_id, {"t": "metrics", "unique": True, "rows": rows}, sync=wait)
    values = {p.key: str(p.value) for p in params or ()}
    if values:
        sender.append(run_id, {"t": "attrs", "kind": "param", "values": values, "write_once": True}, sync=wait)
    tag_values = {t.key: str(t.value) for t in tags or ()}
    if tag_values:
        sender.append(run_id, {"t": "attrs", "kind": "tag", "values": tag_values}, sync=wait)
    if wait:
        refused = sender.wait(_WAIT_S)
        if refused:
            from mlflow.exceptions import MlflowException
            from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

            raise MlflowException(refused[0], error_code=INVALID_PARAMETER_VALUE)
    return True


def flush(timeout_seconds: Optional[float] = None) -> None:
    """Wait until what was spooled is sent (or the server was found unreachable)."""
    sender = _sender()
    if sender is not None:
        sender.sync_all()
        sender.wait(_WAIT_S if timeout_seconds is None else timeout_seconds)
