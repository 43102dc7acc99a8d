"""The MLflow REST requests the server answers, as pydantic models: what is validated and what the OpenAPI
document shows for the MLflow routes.

Fields and limits follow MLflow's own server (its request messages and `mlflow/utils/validation.py`
limits, measured against `mlflow server` 3.17): a request it refuses with 400 INVALID_PARAMETER_VALUE
is refused here with the same code, before any handler runs. Unknown fields are tolerated, as MLflow's
parser does for newer clients. No MLflow import: these load with the server.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from azuremlcore.server._bounds import INT64_MAX, Int64

# MLflow's limits (validation.py): entity keys, values, batch sizes, search pages.
MAX_KEY = 250
MAX_PARAM_VALUE, MAX_TAG_VALUE = 6000, 8000
MAX_BATCH_METRICS, MAX_BATCH_PARAMS_TAGS, MAX_BATCH_ENTITIES = 1000, 100, 1000
MAX_SEARCH_RESULTS = 50_000
Int32Positive = Annotated[int, Field(ge=1, le=(1 << 31) - 1)]
Timestamp = Annotated[int, Field(ge=0, le=INT64_MAX)]
Key = Annotated[str, Field(min_length=1)]
# Proto enums are accepted by name or number.
ViewType = Union[Literal["ACTIVE_ONLY", "DELETED_ONLY", "ALL"], Annotated[int, Field(ge=1, le=3)]]
RunStatus = Union[Literal["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"], Annotated[int, Field(ge=1, le=5)]]


class _Msg(BaseModel):
    # Built at import, not at first use (defer_build): the first model pydantic builds in a process scans every
    # installed distribution's entry points for pydantic plugins (40-50 ms here, more with more packages),
    # which would then fall on the server's first request instead of its start-up.
    model_config = ConfigDict(extra="allow")


class _RunMsg(_Msg):
    """A message about one run: run_id (run_uuid is its deprecated name, still sent by old clients)."""

    run_id: Optional[str] = Field(None, max_length=256)
    run_uuid: Optional[str] = Field(None, max_length=256)

    @model_validator(mode="after")
    def _one_run_id(self) -> "_RunMsg":
        if not (self.run_id or self.run_uuid):
            raise ValueError("Missing value for required parameter 'run_id'.")
        return self


class Tag(_Msg):
    """A run, experiment or logged-model tag."""

    key: Key
    value: Optional[str] = None


class Param(_Msg):
    """A param (values longer than 6,000 characters are cut there, as MLflow's server does)."""

    key: Key
    value: Optional[str] = None


class Metric(_Msg):
    """One metric point: value (a number, or "NaN"/"Infinity"/"-Infinity"), timestamp in ms, step."""

    key: Key
    value: float
    timestamp: Timestamp
    step: Optional[Int64] = None


class CreateExperiment(_Msg):
    """experiments/create."""

    name: Key
    artifact_location: Optional[str] = None
    tags: list[Tag] = []


class SearchExperiments(_Msg):
    """experiments/search (max_results 1 to 50,000)."""

    max_results: Optional[Annotated[int, Field(ge=1, le=MAX_SEARCH_RESULTS)]] = None
    page_token: Optional[str] = None
    filter: Optional[str] = None
    order_by: list[str] = []
    view_type: Optional[ViewType] = None


class ExperimentId(_Msg):
    """A message naming one experiment (get, delete, restore)."""

    experiment_id: Key


class GetExperimentByName(_Msg):
    """experiments/get-by-name."""

    experiment_name: Key


class UpdateExperiment(ExperimentId):
    """experiments/update (rename)."""

    new_name: Optional[str] = None


class SetExperimentTag(ExperimentId):
    """experiments/set-experiment-tag."""

    key: Key
    value: Optional[str] = None


class DeleteExperimentTag(ExperimentId):
    """experiments/delete-experiment-tag."""

    key: Key


class CreateRun(_Msg):
    """runs/create."""

    experiment_id: Optional[str] = None
    user_id: Optional[str] = None
    run_name: Optional[str] = None
    start_time: Optional[Timestamp] = None
    tags: list[Tag] = []


class UpdateRun(_RunMsg):
    """runs/update (an unknown status name is ignored, as MLflow's parser does)."""

    status: Optional[Union[RunStatus, str]] = None
    end_time: Optional[Timestamp] = None
    run_name: Optional[str] = None


class RunOnly(_RunMsg):
    """A message naming only a run (get, delete, restore)."""


class SearchRuns(_Msg):
    """runs/search (max_results 1 to 50,000)."""

    experiment_ids: list[str] = []
    filter: Optional[str] = None
    run_view_type: Optional[ViewType] = None
    max_results: Optional[Annotated[int, Field(ge=1, le=MAX_SEARCH_RESULTS)]] = None
    order_by: list[str] = []
    page_token: Optional[str] = None


class LogMetric(_RunMsg):
    """runs/log-metric: key, value and timestamp are required."""

    key: Key
    value: float
    timestamp: Timestamp
    step: Optional[Int64] = None
    model_id: Optional[str] = None
    dataset_name: Optional[str] = None
    dataset_digest: Optional[str] = None


class LogParam(_RunMsg):
    """runs/log-parameter."""

    key: Annotated[str, Field(min_length=1, max_length=MAX_KEY)]
    value: Optional[str] = None


class SetTag(_RunMsg):
    """runs/set-tag."""

    key: Key
    value: Optional[str] = None


class DeleteTag(_RunMsg):
    """runs/delete-tag."""

    key: Key


class LogBatch(_RunMsg):
    """runs/log-batch: at most 1,000 metrics, 100 params, 100 tags, 1,000 entities in all."""

    metrics: list[Metric] = []
    params: list[Param] = []
    tags: list[Tag] = []

    @model_validator(mode="after")
    def _limits(self) -> "LogBatch":
        # MLflow's messages, so a client sees the same explanation from either server.
        for what, items, most in (("metrics", self.metrics, MAX_BATCH_METRICS),
                                  ("params", self.params, MAX_BATCH_PARAMS_TAGS),
                                  ("tags", self.tags, MAX_BATCH_PARAMS_TAGS)):
            if len(items) > most:
                raise ValueError(f"A batch logging request can contain at most {most} {what}. Got {len(items)} "
                                 f"{what}. Please split up {what} across multiple requests and try again.")
        total = len(self.metrics) + len(self.params) + len(self.tags)
        if total > MAX_BATCH_ENTITIES:
            raise ValueError(f"A batch logging request can contain at most {MAX_BATCH_ENTITIES} metrics, params, "
                             f"and tags in total. Got {total}.")
        return self


class LogInputs(_RunMsg):
    """runs/log-inputs."""

    datasets: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []


class LogOutputs(_RunMsg):
    """runs/outputs."""

    models: list[dict[str, Any]] = []


class LogModel(_RunMsg):
    """runs/log-model."""

    model_json: Optional[str] = None


class GetMetricHistory(_RunMsg):
    """metrics/get-history: max_results must be positive; page_token is the one the previous page gave."""

    metric_key: Key
    max_results: Optional[Int32Positive] = None
    page_token: Optional[str] = None


class CreateLoggedModel(_Msg):
    """logged-models (create)."""

    experiment_id: Key
    name: Optional[str] = None
    model_type: Optional[str] = None
    source_run_id: Optional[str] = None
    params: list[Param] = []
    tags: list[Tag] = []


class SearchLoggedModels(_Msg):
    """logged-models/search."""

    experiment_ids: list[str] = []
    filter: Optional[str] = None
    datasets: list[dict[str, Any]] = []
    max_results: Optional[Int32Positive] = None
    order_by: list[dict[str, Any]] = []
    page_token: Optional[str] = None


class Empty(_Msg):
    """A message with no fields of its own (the model id is in the path)."""


class FinalizeLoggedModel(_Msg):
    """logged-models/{model_id} (PATCH): the final status."""

    status: Optional[Union[Literal["LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"],
                           Annotated[int, Field(ge=0, le=3)]]] = None


class LoggedModelTags(_Msg):
    """logged-models/{model_id}/tags (PATCH)."""

    tags: list[Tag] = []


class LoggedModelParams(_Msg):
    """logged-models/{model_id}/params."""

    params: list[Param] = []


#: (path after /api/2.0/mlflow, method) -> the model its query (GET) or JSON body (others) must satisfy.
REQUESTS: dict[tuple[str, str], type[_Msg]] = {
    ("/experiments/create", "POST"): CreateExperiment,
    ("/experiments/search", "POST"): SearchExperiments, ("/experiments/search", "GET"): SearchExperiments,
    ("/experiments/get", "GET"): ExperimentId, ("/experiments/get-by-name", "GET"): GetExperimentByName,
    ("/experiments/delete", "POST"): ExperimentId, ("/experiments/restore", "POST"): ExperimentId,
    ("/experiments/update", "POST"): UpdateExperiment,
    ("/experiments/set-experiment-tag", "POST"): SetExperimentTag,
    ("/experiments/delete-experiment-tag", "POST"): DeleteExperimentTag,
    ("/runs/create", "POST"): CreateRun, ("/runs/update", "POST"): UpdateRun,
    ("/runs/delete", "POST"): RunOnly, ("/runs/restore", "POST"): RunOnly, ("/runs/get", "GET"): RunOnly,
    ("/runs/search", "POST"): SearchRuns, ("/runs/log-metric", "POST"): LogMetric,
    ("/runs/log-parameter", "POST"): LogParam, ("/runs/set-tag", "POST"): SetTag,
    ("/runs/delete-tag", "POST"): DeleteTag, ("/runs/log-batch", "POST"): LogBatch,
    ("/runs/log-inputs", "POST"): LogInputs, ("/runs/outputs", "POST"): LogOutputs,
    ("/runs/log-model", "POST"): LogModel, ("/metrics/get-history", "GET"): GetMetricHistory,
    ("/logged-models", "POST"): CreateLoggedModel, ("/logged-models/search", "POST"): SearchLoggedModels,
    ("/logged-models/{model_id}", "GET"): Empty, ("/logged-models/{model_id}", "PATCH"): FinalizeLoggedModel,
    ("/logged-models/{model_id}", "DELETE"): Empty, ("/logged-models/{model_id}/tags", "PATCH"): LoggedModelTags,
    ("/logged-models/{model_id}/tags/{tag_key}", "DELETE"): Empty,
    ("/logged-models/{model_id}/params", "POST"): LoggedModelParams,
}


def _where(loc: tuple[Any, ...]) -> str:
    # MLflow names nested fields as 'metrics[0].value'.
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def mlflow_message(exc: ValidationError) -> str:
    """MLflow's wording for the first problem: a missing required parameter, or an invalid value of one."""
    e = exc.errors()[0]
    where = _where(tuple(p for p in e.get("loc", ()) if not (isinstance(p, str) and "[" in p)))
    if e["type"] == "missing":
        return f"Missing value for required parameter '{where}'. See the API docs for more information about " \
               "request parameters."
    if e["type"] == "value_error":
        return str(e.get("ctx", {}).get("error") or e["msg"])
    if e["type"] == "string_too_short" and e.get("input") == "":
        # MLflow treats an empty required string as missing.
        return f"Missing value for required parameter '{where}'. See the API docs for more information about " \
               "request parameters."
    value = e.get("input")
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return f"Invalid value {shown[:100]} for parameter '{where}' supplied: {e['msg']}."


def validate(path: str, method: str, data: Any) -> _Msg | None:
    """The request's model instance; raises ValidationError (see `mlflow_message`) when it breaks a rule."""
    model = REQUESTS.get((path, method))
    if model is None:
        return None
    return model.model_validate(data if data is not None else {})
