"""Between workspace-store records and MLflow entities: statuses, runs, experiments (MLflow 2.10+ and 3.x)."""
from __future__ import annotations

import functools
import math
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from mlflow.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    ExperimentTag,
    InputTag,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunTag,
)
from mlflow.entities.lifecycle_stage import LifecycleStage
from mlflow.entities.run_status import RunStatus

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, ErrorCode
from mlflow.utils import validation

from azuremlcore._store.errors import StoreError
from azuremlcore._store.records import ExperimentRecord, MetricPoint, RunRecord
from azuremlcore.exceptions import UserErrorException, WebserviceException
from azuremlmlflow import _compat

F = TypeVar("F", bound=Callable[..., Any])


def translated(fn: F) -> F:
    """Store and SDK errors become MlflowExceptions with an MLflow error code (the client relies on the codes)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreError as exc:
            raise MlflowException(str(exc), error_code=ErrorCode.Value(exc.error_code)) from exc
        except (UserErrorException, WebserviceException) as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from exc
    return wrapper  # type: ignore[return-value]

RUN_NAME_TAG = "mlflow.runName"
PARENT_TAG = "mlflow.parentRunId"
INPUTS_DETAIL = "_mlflow_inputs"
OUTPUTS_DETAIL = "_mlflow_outputs"
#: Asset kind of MLflow 3 logged models (files under <workspace>/mlflow-models/<model id>).
LOGGED_MODEL_KIND = "mlflow_logged_model"
#: Point kinds that are MLflow metrics when they hold a float (run.log values and log_list items).
METRIC_KINDS = frozenset({"scalar", "list"})

_TO_MLFLOW = {
    "NotStarted": "SCHEDULED", "Starting": "SCHEDULED", "Provisioning": "SCHEDULED", "Preparing": "SCHEDULED",
    "Queued": "SCHEDULED", "Running": "RUNNING", "Finalizing": "RUNNING", "CancelRequested": "RUNNING",
    "NotResponding": "RUNNING", "Completed": "FINISHED", "Failed": "FAILED", "Canceled": "KILLED",
}
_FROM_MLFLOW = {"RUNNING": "Running", "SCHEDULED": "Queued", "FINISHED": "Completed", "FAILED": "Failed",
                "KILLED": "Canceled"}


def status_to_mlflow(status: str) -> str:
    """MLflow's status string for an Azure ML run status."""
    return _TO_MLFLOW.get(status, "RUNNING")


def status_from_mlflow(status: int | str) -> str:
    """Azure ML's status for an MLflow RunStatus (int enum or its name)."""
    name = RunStatus.to_string(status) if isinstance(status, int) else str(status)
    return _FROM_MLFLOW[name]


def is_metric_point(p: MetricPoint) -> bool:
    """Whether a stored point is an MLflow metric (a float value of a scalar or list metric)."""
    return p.value is not None and p.kind in METRIC_KINDS


def to_metric(p: MetricPoint) -> Metric:
    """The MLflow Metric of a stored point."""
    return _compat.metric(p.key, float(p.value), int(p.timestamp), int(p.step), run_id=p.run_id)  # type: ignore[arg-type]


def _latest_key(p: MetricPoint) -> tuple[int, int, float]:
    value = float(p.value)  # type: ignore[arg-type]
    return (p.step, p.timestamp, -math.inf if math.isnan(value) else value)


def latest_metrics(points: Iterable[MetricPoint]) -> list[Metric]:
    """One Metric per key: MLflow's "latest" is the max by (step, timestamp, value)."""
    best: dict[str, MetricPoint] = {}
    for p in points:
        if is_metric_point(p) and (p.key not in best or _latest_key(p) >= _latest_key(best[p.key])):
            best[p.key] = p
    return [to_metric(p) for p in best.values()]


def experiment(rec: ExperimentRecord, artifact_root: Path) -> Experiment:
    """The MLflow Experiment of an experiment record (archived = deleted)."""
    return Experiment(
        experiment_id=rec.id, name=rec.name, artifact_location=(artifact_root / rec.workspace_id).as_uri(),
        lifecycle_stage=LifecycleStage.DELETED if rec.archived_time else LifecycleStage.ACTIVE,
        tags=[ExperimentTag(k, v) for k, v in rec.tags.items()], creation_time=rec.created_time,
        last_update_time=rec.last_update_time)


def run_artifact_uri(artifact_root: Path, rec: RunRecord) -> str:
    """The file:// URI of the run's file container, so MLflow artifacts are the run's files."""
    return (artifact_root / rec.workspace_id / "runs" / rec.id).as_uri()


def run_info(rec: RunRecord, artifact_root: Path) -> RunInfo:
    """The MLflow RunInfo of a run record."""
    return _compat.run_info(rec.id, rec.experiment_id, rec.submitted_by or "", status_to_mlflow(rec.status),
                            rec.start_time or rec.created_time, rec.end_time, rec.lifecycle_stage,
                            run_artifact_uri(artifact_root, rec), rec.display_name or rec.id)


def run_tags(rec: RunRecord) -> dict[str, str]:
    """The run's tags as MLflow shows them (run name and parent as mlflow.* tags)."""
    tags = dict(rec.tags)
    tags[RUN_NAME_TAG] = rec.display_name or rec.id
    if rec.parent_id and PARENT_TAG not in tags:
        tags[PARENT_TAG] = rec.parent_id
    return tags


def dataset_input_to_dict(d: DatasetInput) -> dict[str, Any]:
    """A JSON-able record of a dataset input (what log_inputs stores)."""
    ds = d.dataset
    return {"name": ds.name, "digest": ds.digest, "source_type": ds.source_type, "source": ds.source,
            "schema": ds.schema, "profile": ds.profile, "tags": {t.key: t.value for t in d.tags}}


def _dataset_input(d: dict[str, Any]) -> DatasetInput:
    return DatasetInput(Dataset(name=d["name"], digest=d["digest"], source_type=d["source_type"], source=d["source"],
                                schema=d.get("schema"), profile=d.get("profile")),
                        [InputTag(k, v) for k, v in d.get("tags", {}).items()])


def run(rec: RunRecord, points: Iterable[MetricPoint], artifact_root: Path) -> Run:
    """The MLflow Run of a record and its metric points."""
    data = RunData(metrics=latest_metrics(points), params=[Param(k, v) for k, v in rec.params.items()],
                   tags=[RunTag(k, v) for k, v in run_tags(rec).items()])
    inputs = rec.details.get(INPUTS_DETAIL) or {}
    outputs = rec.details.get(OUTPUTS_DETAIL) or []
    return _compat.run(run_info(rec, artifact_root), data, [_dataset_input(d) for d in inputs.get("datasets", [])],
                       list(inputs.get("models", [])), [(o["model_id"], o["step"]) for o in outputs])


def validate(name: str, *args: Any) -> None:
    """Apply MLflow's check `mlflow.utils.validation.<name>` (limits, names) when this MLflow has it."""
    # Private helpers of MLflow that come and go between versions: a missing one checks nothing.
    check = getattr(validation, name, None)
    if check is not None:
        check(*args)


def random_name() -> str:
    """A readable unique run or model name, as MLflow makes them."""
    try:
        from mlflow.utils.name_utils import _generate_random_name

        return _generate_random_name()
    except ImportError:  # the helper is private to MLflow; any readable unique name will do
        return f"run-{uuid.uuid4().hex[:8]}"
