"""The workspace API's request and response bodies (also what the served OpenAPI document describes)."""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

_NAME = r"^[^\x00-\x1f\x7f]{1,256}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkspaceOut(BaseModel):
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

    location: str = "local"
    sku: str = "basic"
    friendly_name: Optional[str] = Field(None, max_length=256)
    description: Optional[str] = None
    tags: dict[str, str] = {}
    exist_ok: bool = False


class WorkspaceUpdate(_Body):
    """Fields of a workspace that can change."""

    friendly_name: Optional[str] = Field(None, max_length=256)
    description: Optional[str] = None
    location: Optional[str] = None
    sku: Optional[str] = None
    tags: Optional[dict[str, str]] = None


class ExperimentOut(BaseModel):
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
    tags: dict[str, str] = {}
    get_or_create: bool = False


class ExperimentUpdate(_Body):
    """Rename, archive or reactivate an experiment."""

    name: Optional[str] = Field(None, pattern=_NAME)
    archived: Optional[bool] = None


class TagsBody(_Body):
    """Tags to set."""

    tags: dict[str, str]


class KeysBody(_Body):
    """Keys to remove."""

    keys: list[str]


class RunIn(_Body):
    """A run to create (the store's RunRecord; number is assigned by the server)."""

    id: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$")
    experiment_id: str
    parent_id: Optional[str] = None
    type: Optional[str] = Field(None, max_length=64)
    display_name: Optional[str] = Field(None, max_length=256)
    description: Optional[str] = None
    status: str = "NotStarted"
    target: Optional[str] = Field(None, max_length=128)
    submitted_by: Optional[str] = Field(None, max_length=256)
    created_time: int = 0
    start_time: Optional[int] = None
    end_time: Optional[int] = None
    lifecycle_stage: str = "active"
    details: dict[str, Any] = {}
    tags: dict[str, str] = {}
    properties: dict[str, str] = {}
    params: dict[str, str] = {}


class RunOut(BaseModel):
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
    """Run fields to change; details are merged key by key."""

    display_name: Optional[str] = Field(None, max_length=256)
    description: Optional[str] = None
    status: Optional[str] = None
    target: Optional[str] = None
    start_time: Optional[int] = None
    end_time: Optional[int] = None
    lifecycle_stage: Optional[Literal["active", "deleted"]] = None
    details: Optional[dict[str, Any]] = None


class AttributesBody(_Body):
    """Tags, properties or params to set; write_once rejects a changed value."""

    values: dict[str, str]
    write_once: bool = False


class MetricsBody(BaseModel):
    """Points as rows [run_id, key, kind, value (number, "NaN", "Infinity" or null), value_json, step, timestamp]."""

    points: list[list[Any]]


class MetricsQuery(_Body):
    """Which metric points to read."""

    run_ids: list[str] = Field(..., max_length=10_000)
    key: Optional[str] = None


class AssetIn(_Body):
    """A new version of a named asset."""

    name: str = Field(..., pattern=_NAME)
    spec: dict[str, Any]
    description: Optional[str] = None
    tags: dict[str, str] = {}
    properties: dict[str, str] = {}


class AssetOut(BaseModel):
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

    spec: Optional[dict[str, Any]] = None
    description: Optional[str] = None
    tags: Optional[dict[str, str]] = None
    properties: Optional[dict[str, str]] = None


class SecretsBody(_Body):
    """Secrets to set."""

    values: dict[str, str]


class SecretNames(_Body):
    """Secret names to read."""

    names: list[str]


class RunToken(BaseModel):
    """A token scoped to one run (it can write only that run and its children)."""

    token: str
    expires_on: int
