"""The workspace API's request and response bodies (also what the served OpenAPI document describes).

Requests are validated against these models and nothing else, so the document and the answers agree:
a value the document does not allow gets 400 naming the field. Limits follow the columns they land in
(and MLflow's rules for run attributes), so no valid-looking value can fail in the database instead.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from azuremlcore._store.records import RUN_STATUSES
from azuremlcore.server._bounds import INT64_MAX, INT64_MIN, Int64  # noqa: F401 - the route modules use m.Int64

_NAME = r"^[^\x00-\x1f\x7f]{1,256}$"
#: Times in ms since the epoch and other counts that cannot be negative.
Time = Annotated[int, Field(ge=0, le=INT64_MAX)]
#: Asset versions are 32-bit integers in the database.
Version = Annotated[int, Field(ge=1, le=(1 << 31) - 1)]
#: Keys of tags, properties and params: MLflow's limit of 250 characters, never empty, no control characters.
AttrKey = Annotated[str, StringConstraints(min_length=1, max_length=250, pattern=r"^[^\x00-\x1f\x7f]+$")]
#: MLflow's limits on attribute values (the stricter param limit is applied by the route for kind 'param').
MAX_TAG_VALUE, MAX_PARAM_VALUE = 8000, 6000
AttrValue = Annotated[str, Field(max_length=MAX_TAG_VALUE)]
Attributes = dict[AttrKey, AttrValue]
RunStatus = Literal[RUN_STATUSES]  # type: ignore[valid-type]


def _no_null_default(schema: dict[str, Any]) -> None:
    # An optional field that must not be null: absent means "unchanged", so the document shows no default.
    schema.pop("default", None)


def optional(**constraints: Any) -> Any:
    """A field that may be left out but, when given, must not be null (`model_dump(exclude_unset=True)`)."""
    return Field(None, json_schema_extra=_no_null_default, **constraints)


class _Model(BaseModel):
    # Validators and serializers are built at a model's first use: the front (`_api_front`) validates only
    # the request bodies of the calls that come, and the response models serve only the OpenAPI document
    # (importing this module built all of them: 22 ms, which the first workspace call waited for).
    model_config = ConfigDict(defer_build=True)


class _Body(_Model):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class ErrorOut(_Model):
    """Every error answer: MLflow's shape (`error_code`, `message`) and Azure's (`error.code`, `error.message`)."""

    error_code: str
    message: str
    error: Optional[dict[str, str]] = None


class WorkspaceOut(_Model):
    """A workspace (the store's WorkspaceRecord)."""

    id: str
    subscription_id: str
    resource_group: str
    name: str
    location: str = "local"
    sku: str = "basic"
    friendly_name: Optional[str] = None
    description: Optional[str] = None
    tags: dict[str, str] = {}
    created_time: int = 0


class WorkspaceCreate(_Body):
    """Create a workspace at the path's coordinates (exist_ok returns the existing one)."""

    location: str = Field("local", min_length=1, max_length=64)
    sku: str = Field("basic", min_length=1, max_length=32)
    friendly_name: Optional[str] = Field(None, max_length=256)
    description: Optional[str] = None
    tags: Attributes = {}
    exist_ok: bool = False


class WorkspaceUpdate(_Body):
    """Fields of a workspace that can change."""

    friendly_name: Optional[str] = Field(None, max_length=256)
    description: Optional[str] = None
    location: str = optional(min_length=1, max_length=64)
    sku: str = optional(min_length=1, max_length=32)
    tags: Attributes = optional()


class ExperimentOut(_Model):
    """An experiment (the store's ExperimentRecord)."""

    id: str
    workspace_id: str
    name: str
    created_time: int
    last_update_time: int
    archived_time: Optional[int] = None
    tags: dict[str, str] = {}


class ExperimentCreate(_Body):
    """Create an experiment; get_or_create returns an existing one of that name instead of failing."""

    name: str = Field(..., pattern=_NAME)
    tags: Attributes = {}
    get_or_create: bool = False


class ExperimentUpdate(_Body):
    """Rename, archive or reactivate an experiment."""

    name: Optional[str] = Field(None, pattern=_NAME)
    archived: Optional[bool] = None


class TagsBody(_Body):
    """Tags to set."""

    tags: Attributes


class KeysBody(_Body):
    """Keys to remove."""

    keys: list[Annotated[str, Field(max_length=250)]] = Field(..., max_length=10_000)


class RunIn(_Body):
    """A run to create (the store's RunRecord; number is assigned by the server)."""

    id: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$")
    experiment_id: str = Field(..., max_length=64)
    parent_id: Optional[str] = Field(None, max_length=256)
    type: Optional[str] = Field(None, max_length=64)
    display_name: Optional[str] = Field(None, max_length=256)
    description: Optional[str] = None
    status: RunStatus = "NotStarted"
    target: Optional[str] = Field(None, max_length=128)
    submitted_by: Optional[str] = Field(None, max_length=256)
    created_time: Time = 0
    start_time: Optional[Time] = None
    end_time: Optional[Time] = None
    lifecycle_stage: Literal["active", "deleted"] = "active"
    details: dict[str, Any] = {}
    tags: Attributes = {}
    properties: Attributes = {}
    params: dict[AttrKey, Annotated[str, Field(max_length=MAX_PARAM_VALUE)]] = {}


class RunOut(_Model):
    """A run (the store's RunRecord)."""

    id: str
    workspace_id: str
    experiment_id: str
    number: int = 0
    parent_id: Optional[str] = None
    type: Optional[str] = None
    display_name: Optional[str] = None
    description: Optional[str] = None
    status: str = "NotStarted"
    target: Optional[str] = None
    submitted_by: Optional[str] = None
    created_time: int = 0
    start_time: Optional[int] = None
    end_time: Optional[int] = None
    lifecycle_stage: str = "active"
    details: dict[str, Any] = {}
    tags: dict[str, str] = {}
    properties: dict[str, str] = {}
    params: dict[str, str] = {}


class RunUpdate(_Body):
    """Run fields to change (absent ones stay as they are); details are merged key by key.

    status, lifecycle_stage and details cannot be null; the other fields are cleared by null.
    """

    display_name: Optional[str] = Field(None, max_length=256)
    description: Optional[str] = None
    status: RunStatus = optional()
    target: Optional[str] = Field(None, max_length=128)
    start_time: Optional[Time] = None
    end_time: Optional[Time] = None
    lifecycle_stage: Literal["active", "deleted"] = optional()
    details: dict[str, Any] = optional()


class AttributesBody(_Body):
    """Tags, properties or params to set; write_once rejects a changed value.

    Keys are 1 to 250 characters; values at most 8,000 characters (params 6,000), as in MLflow.
    """

    values: Attributes
    write_once: bool = False


MetricValue = Optional[Annotated[float, Field(strict=True)] | Literal["NaN", "Infinity", "-Infinity"]]
MetricRow = tuple[Annotated[str, Field(min_length=1, max_length=256)], AttrKey,
                  Annotated[str, Field(min_length=1, max_length=24)], MetricValue, Optional[str], Int64, Int64]


# A point of one run (`MetricsBody.run_id`): [key, kind, value, value_json, step, timestamp].
RunMetricRow = tuple[AttrKey, Annotated[str, Field(min_length=1, max_length=24)], MetricValue, Optional[str],
                     Int64, Int64]


MetricKind = Annotated[str, Field(min_length=1, max_length=24)]
SpoolSeq = Annotated[int, Field(ge=0, le=2**62)]


class MetricBatch(_Body):
    """A spool record's points of one run, as columns of equal length (`value`, `step`, `timestamp`,
    and `key`, `kind`, `value_json` when they are lists); `key` and `kind` may be one value for every
    point, `value_json` null for all. `n` is the record's number in its source (`seq`)."""

    n: SpoolSeq
    t: Literal["metrics"] = "metrics"
    key: Union[AttrKey, list[AttrKey]]
    kind: Union[MetricKind, list[MetricKind]] = "scalar"
    value: list[MetricValue]
    value_json: Optional[list[Optional[str]]] = None
    step: list[Int64]
    timestamp: list[Int64]

    @model_validator(mode="after")
    def _same_lengths(self) -> "MetricBatch":
        n = len(self.value)
        for name in ("key", "kind", "value_json", "step", "timestamp"):
            column = getattr(self, name)
            if isinstance(column, list) and len(column) != n:
                raise ValueError(f"'{name}' has {len(column)} items and 'value' {n}: every column needs one per point")
        return self


class MetricsBody(_Body):
    """Points as rows [run_id, key, kind, value (number, "NaN", "Infinity" or null), value_json, step, timestamp];
    or the points of one run: `run_id` and `rows` [key, kind, value, value_json, step, timestamp]; or
    `run_id`, `source` and `batches` (spool records as columns, see MetricBatch; no `seq`)."""

    points: list[MetricRow] = []
    run_id: Optional[Annotated[str, Field(min_length=1, max_length=256)]] = None
    rows: Optional[list[RunMetricRow]] = None
    batches: Optional[list[MetricBatch]] = None
    # MLflow's semantics for the points of one run: those identical to a stored point are skipped.
    unique: bool = False
    # A spool record's idempotent id (both or neither; every point then belongs to one run): the
    # points are stored unless record `seq` of `source`, or a later one, was stored already.
    source: Optional[Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]] = None
    # One number for all points, or one per point (points of several records).
    seq: Optional[Union[Annotated[int, Field(ge=0, le=2**62)], list[Annotated[int, Field(ge=0, le=2**62)]]]] = None


class MetricsQuery(_Body):
    """Which metric points to read."""

    run_ids: list[Annotated[str, Field(max_length=256)]] = Field(..., max_length=10_000)
    key: Optional[str] = Field(None, max_length=250)


class AssetIn(_Body):
    """A new version of a named asset."""

    name: str = Field(..., pattern=_NAME)
    spec: dict[str, Any]
    description: Optional[str] = None
    tags: Attributes = {}
    properties: Attributes = {}


class AssetOut(_Model):
    """One version of an asset (the store's AssetRecord)."""

    kind: str
    name: str
    version: int
    spec: dict[str, Any]
    description: Optional[str] = None
    tags: dict[str, str] = {}
    properties: dict[str, str] = {}
    created_time: int = 0


class AssetUpdate(_Body):
    """Fields of an asset version to change."""

    spec: dict[str, Any] = optional()
    description: Optional[str] = None
    tags: Attributes = optional()
    properties: Attributes = optional()


SecretName = Annotated[str, StringConstraints(pattern=r"^[0-9a-zA-Z-]{1,127}$")]


class SecretsBody(_Body):
    """Secrets to set (names of 1 to 127 letters, digits and '-')."""

    values: dict[SecretName, str]


class SecretNames(_Body):
    """Secret names to read."""

    names: list[SecretName] = Field(..., max_length=1000)


class RunToken(_Model):
    """A token scoped to one run (it can write only that run and its children)."""

    token: str
    expires_on: int
