"""Plain records the workspace store takes and returns (no database or HTTP types leak out)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Canceled"})
RUN_STATUSES = (
    "NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running",
    "Finalizing", "CancelRequested", "Completed", "Failed", "Canceled", "NotResponding",
)


@dataclass
class WorkspaceRecord:
    """A workspace's identity and settings."""

    id: str
    subscription_id: str
    resource_group: str
    name: str
    location: str = "local"
    sku: str = "basic"
    friendly_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    created_time: int = 0


@dataclass
class ExperimentRecord:
    """An experiment: a named group of runs in one workspace."""

    id: str
    workspace_id: str
    name: str
    created_time: int
    last_update_time: int
    archived_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class RunRecord:
    """A run: the unit Azure ML and MLflow both track (one row, both views)."""

    id: str
    workspace_id: str
    experiment_id: str
    number: int = 0
    parent_id: str | None = None
    type: str | None = None
    display_name: str | None = None
    description: str | None = None
    status: str = "NotStarted"
    target: str | None = None
    submitted_by: str | None = None
    created_time: int = 0
    start_time: int | None = None
    end_time: int | None = None
    lifecycle_stage: str = "active"
    details: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class MetricPoint:
    """One logged value: `value` is MLflow's float (None for non-numeric), `value_json` the logged Python value."""

    run_id: str
    key: str
    kind: str
    value: float | None
    value_json: str | None
    step: int
    timestamp: int


@dataclass
class MetricColumns:
    """One spool record's points of one run as columns of equal length (what the server receives as `batches`).

    `key` and `kind` are one value for every point or a list with one per point; `value_json` None
    for every point or a list; `n` is the record's number in its spool source.
    """

    n: int
    key: str | list[str]
    kind: str | list[str]
    value: list[float | None]
    value_json: list[str | None] | None
    step: list[int]
    timestamp: list[int]


@dataclass
class AssetRecord:
    """One version of a named workspace asset (environment, model, dataset, datastore, compute target)."""

    kind: str
    name: str
    version: int
    spec: dict[str, Any]
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    created_time: int = 0
