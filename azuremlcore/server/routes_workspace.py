"""The workspace API: the WorkspaceStore protocol over HTTP, under each workspace's ARM path."""
from __future__ import annotations

import gc
import json
import math
import re
import shutil
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Iterator, Optional

import sqlalchemy as sa
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from azuremlcore._config import arm_id
from azuremlcore._store.errors import AlreadyExistsError, InvalidValueError, NotFoundError
from azuremlcore._store.records import MetricColumns, MetricPoint, RunRecord, WorkspaceRecord
from azuremlcore.server import models as m
from azuremlcore.server._common import (WS_PATH as P, call, json_response, principal_of, resolve_workspace,
                                        scope_above, state_of, validation_message)
from azuremlcore.server._route_table import PathValue, Query, RouteTable
from azuremlcore.server.security.authz import OWN, READ, WRITE, AuthError, Principal

if TYPE_CHECKING:
    from azuremlcore.server.state import ServerState

router = RouteTable()
_WS_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{1,32}$")
# Azure's rule for resource group names (subscription ids are GUIDs here or any such label).
_COORDINATE = re.compile(r"^[-\w.()]{1,90}$")
_KINDS = {"tag", "property", "param"}
_ASSET_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_SECRET = re.compile(r"^[0-9a-zA-Z-]{1,127}$")


def _check_kind(kind: str) -> str:
    if not _ASSET_KIND.match(kind):
        raise InvalidValueError(f"Invalid asset kind {kind!r}: use lower-case letters, digits, '-' or '_'.")
    return kind


# ---------------------------------------------------------------------- health and discovery
@router.get("/health", tags=["server"])
async def health() -> dict[str, str]:
    """Liveness probe (the only route that needs no token)."""
    return {"status": "ok"}


@router.get("/api/v1/workspaces", response_model=list[m.WorkspaceOut], tags=["workspaces"])
async def find_workspaces(request: Request, subscription_id: Optional[str] = None,
                          resource_group: Optional[str] = None, name: Optional[str] = None) -> Response:
    """Workspaces matching the coordinates given that the caller can read."""
    st, pr = state_of(request), principal_of(request)
    found = await call(request, st.store.find_workspace, subscription_id, resource_group, name)
    visible = [w for w in found if st.auth.rank(pr, arm_id(w.subscription_id, w.resource_group, w.name), w.id) >= READ]
    return json_response(visible)


@router.get("/api/v1/locate/{kind}/{item_id}", response_model=m.WorkspaceOut, tags=["workspaces"])
async def locate(request: Request, kind: str, item_id: str) -> Response:
    """The workspace a run, experiment or workspace id belongs to (for clients that hold only an id)."""
    from azuremlcore._store import schema as t

    st, pr = state_of(request), principal_of(request)
    ws_id: str | None = None
    if kind == "runs":
        owner = st.run_owner(item_id)
        ws_id = owner[0] if owner else None
    elif kind == "experiments":
        with st.store._engine.connect() as conn:
            ws_id = conn.execute(sa.select(t.experiments.c.workspace_id).where(t.experiments.c.id == item_id)).scalar()
    elif kind == "workspaces":
        ws_id = item_id
    else:
        raise InvalidValueError(f"Unknown kind {kind!r}: use runs, experiments or workspaces.")
    if ws_id is not None:
        try:
            rec = st.store.get_workspace(ws_id)
        except NotFoundError:
            rec = None
        if rec is not None and st.auth.rank(pr, arm_id(rec.subscription_id, rec.resource_group, rec.name), rec.id) >= READ:
            return json_response(rec)
    raise NotFoundError(f"No {kind[:-1]} {item_id} that you can read exists.")


# ---------------------------------------------------------------------- workspaces
@router.put(P, response_model=m.WorkspaceOut, tags=["workspaces"])
async def create_workspace(request: Request, sub: str, rg: str, ws: str, body: m.WorkspaceCreate) -> Response:
    """Create a workspace (Contributor on the resource group, subscription or server needed).

    Names compare without regard to case, as Azure's do: a case variant of an existing workspace is that
    workspace (returned with exist_ok to a caller who can read it, else refused); display keeps the first case.
    """
    st, pr = state_of(request), principal_of(request)
    if not _WS_NAME.match(ws) or not _COORDINATE.match(sub) or not _COORDINATE.match(rg):
        raise InvalidValueError(f"Invalid workspace name {ws!r}: use 2 to 33 letters, digits, '-' or '_' "
                                "(and a subscription and resource group of 1 to 90 such characters or '.', '(', ')').")
    existing = st.workspace(sub, rg, ws)
    if existing is not None:
        st.auth.require(pr, arm_id(existing.subscription_id, existing.resource_group, existing.name), existing.id, READ)
        if not body.exist_ok:
            raise AlreadyExistsError(f"Workspace '{existing.name}' already exists in resource group "
                                     f"'{existing.resource_group}' (names are not case-sensitive).")
        return json_response(existing)
    # A new workspace needs a right above it; a role on some other workspace (even 'ws1' for 'WS1') is not one.
    st.auth.require(pr, scope_above(sub, rg), None, WRITE)
    rec = WorkspaceRecord(id="", subscription_id=sub, resource_group=rg, name=ws, location=body.location,
                          sku=body.sku, friendly_name=body.friendly_name, description=body.description,
                          tags=body.tags)
    return json_response(await call(request, st.store.create_workspace, rec, exist_ok=body.exist_ok))


@router.get(P, response_model=m.WorkspaceOut, tags=["workspaces"])
async def get_workspace(request: Request, sub: str, rg: str, ws: str) -> Response:
    """A workspace."""
    _, _, rec = resolve_workspace(request, sub, rg, ws, READ)
    return json_response(rec)


@router.patch(P, response_model=m.WorkspaceOut, tags=["workspaces"])
async def update_workspace(request: Request, sub: str, rg: str, ws: str, body: m.WorkspaceUpdate) -> Response:
    """Change a workspace's friendly name, description, location, sku or tags."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, WRITE)
    out = await call(request, st.store.update_workspace, rec.id, **body.model_dump(exclude_unset=True))
    st.forget_workspace(sub, rg, ws)
    return json_response(out)


@router.delete(P, status_code=204, tags=["workspaces"])
async def delete_workspace(request: Request, sub: str, rg: str, ws: str) -> Response:
    """Delete a workspace with everything in it (Owner needed)."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, OWN)
    await call(request, st.store.delete_workspace, rec.id)
    st.forget_workspace(sub, rg, ws)
    shutil.rmtree(st.artifacts.root / rec.id, ignore_errors=True)
    return Response(status_code=204)


# ---------------------------------------------------------------------- experiments
@router.get(P + "/experiments", response_model=list[m.ExperimentOut], tags=["experiments"])
async def list_experiments(request: Request, sub: str, rg: str, ws: str, view_type: str = "ActiveOnly",
                           name: Optional[str] = None) -> Response:
    """Experiments by name (view_type ActiveOnly, ArchivedOnly or All)."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, READ)
    return json_response(await call(request, st.store.list_experiments, rec.id, view_type, name))


@router.post(P + "/experiments", response_model=m.ExperimentOut, tags=["experiments"])
async def create_experiment(request: Request, sub: str, rg: str, ws: str, body: m.ExperimentCreate) -> Response:
    """Create an experiment (or get it, with get_or_create)."""
    st, pr, rec = resolve_workspace(request, sub, rg, ws, READ)
    if body.get_or_create and pr.kind == "run":
        # A run's script may look its own experiment up this way, but not create new ones.
        return json_response(await call(request, st.store.get_experiment, rec.id, name=body.name))
    st.auth.require(pr, arm_id(sub, rg, ws), rec.id, WRITE)
    if body.get_or_create:
        return json_response(await call(request, st.store.get_or_create_experiment, rec.id, body.name))
    return json_response(await call(request, st.store.create_experiment, rec.id, body.name, body.tags))


@router.get(P + "/experiments/{experiment_id}", response_model=m.ExperimentOut, tags=["experiments"])
async def get_experiment(request: Request, sub: str, rg: str, ws: str, experiment_id: str) -> Response:
    """An experiment by id."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, READ)
    return json_response(await call(request, st.store.get_experiment, rec.id, experiment_id=experiment_id))


@router.patch(P + "/experiments/{experiment_id}", response_model=m.ExperimentOut, tags=["experiments"])
async def update_experiment(request: Request, sub: str, rg: str, ws: str, experiment_id: str,
                            body: m.ExperimentUpdate) -> Response:
    """Rename, archive or reactivate an experiment."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, WRITE)
    await call(request, st.store.get_experiment, rec.id, experiment_id=experiment_id)
    return json_response(await call(request, st.store.update_experiment, experiment_id, name=body.name,
                                    archived=body.archived))


@router.put(P + "/experiments/{experiment_id}/tags", status_code=204, tags=["experiments"])
async def set_experiment_tags(request: Request, sub: str, rg: str, ws: str, experiment_id: str,
                              body: m.TagsBody) -> Response:
    """Add or overwrite experiment tags."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, WRITE)
    await call(request, st.store.get_experiment, rec.id, experiment_id=experiment_id)
    await call(request, st.store.set_experiment_tags, experiment_id, body.tags)
    return Response(status_code=204)


@router.post(P + "/experiments/{experiment_id}/tags/delete", status_code=204, tags=["experiments"])
async def remove_experiment_tags(request: Request, sub: str, rg: str, ws: str, experiment_id: str,
                                 body: m.KeysBody) -> Response:
    """Remove experiment tags."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, WRITE)
    await call(request, st.store.get_experiment, rec.id, experiment_id=experiment_id)
    await call(request, st.store.remove_experiment_tags, experiment_id, body.keys)
    return Response(status_code=204)


@router.delete(P + "/experiments/{experiment_id}", response_model=list[str], tags=["experiments"])
async def delete_experiment(request: Request, sub: str, rg: str, ws: str, experiment_id: str) -> Response:
    """Delete an experiment with its runs, metrics and run files; returns the deleted run ids."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, WRITE)
    await call(request, st.store.get_experiment, rec.id, experiment_id=experiment_id)
    run_ids = await call(request, st.store.delete_experiment, experiment_id)
    st.forget_runs(run_ids)
    for run_id in run_ids:
        st.artifacts.delete(f"{rec.id}/runs/{run_id}")
    return json_response(run_ids)


# ---------------------------------------------------------------------- runs
@router.post(P + "/runs", response_model=m.RunOut, tags=["runs"])
async def create_run(request: Request, sub: str, rg: str, ws: str, body: m.RunIn) -> Response:
    """Create a run (a run token may create only child runs of its run)."""
    st, pr, rec = resolve_workspace(request, sub, rg, ws, READ)
    if pr.kind == "run":
        if body.parent_id is None or (body.parent_id != pr.run_id):
            raise AuthError(403, "A run token may create only child runs of its own run.")
    else:
        st.auth.require(pr, arm_id(sub, rg, ws), rec.id, WRITE)
    await call(request, st.store.get_experiment, rec.id, experiment_id=body.experiment_id)
    if body.parent_id is not None:
        st.check_run_read(pr, rec, body.parent_id)
    record = RunRecord(workspace_id=rec.id, **body.model_dump())
    out = await call(request, st.store.create_run, record)
    st.remember_run(out.id, rec.id, out.parent_id)
    return json_response(out)


@router.get(P + "/runs", response_model=list[m.RunOut], tags=["runs"])
async def search_runs(request: Request, sub: str, rg: str, ws: str,
                      experiment_ids: Optional[list[str]] = Query(None), parent_id: Optional[str] = None,
                      include_children: bool = True, statuses: Optional[list[str]] = Query(None),
                      run_type: Optional[str] = None, lifecycle_stage: str = "active",
                      limit: Optional[int] = Query(None, ge=1, le=1_000_000)) -> Response:
    """Runs newest first (lifecycle_stage 'any' for active and deleted)."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, READ)
    runs = await call(request, st.store.search_runs, rec.id, experiment_ids=experiment_ids, parent_id=parent_id,
                      include_children=include_children, statuses=statuses, run_type=run_type,
                      lifecycle_stage=None if lifecycle_stage == "any" else lifecycle_stage, limit=limit)
    return json_response(runs)


@router.get(P + "/runs/{run_id}", response_model=m.RunOut, tags=["runs"])
async def get_run(request: Request, sub: str, rg: str, ws: str, run_id: str) -> Response:
    """A run with its tags, properties and params."""
    st, pr, rec = resolve_workspace(request, sub, rg, ws, READ)
    st.check_run_read(pr, rec, run_id)
    return json_response(await call(request, st.store.get_run, run_id))


@router.patch(P + "/runs/{run_id}", response_model=m.RunOut, tags=["runs"])
async def update_run(request: Request, sub: str, rg: str, ws: str, run_id: str, body: m.RunUpdate) -> Response:
    """Change run fields (status, times, names, details merged key by key)."""
    st, pr, rec = resolve_workspace(request, sub, rg, ws, READ)
    st.check_run_write(pr, rec, run_id)
    return json_response(await call(request, st.store.update_run, run_id, **body.model_dump(exclude_unset=True)))


@router.put(P + "/runs/{run_id}/attributes/{kind}", status_code=204, tags=["runs"])
async def set_run_attributes(request: Request, sub: str, rg: str, ws: str, run_id: str, kind: str,
                             body: m.AttributesBody) -> Response:
    """Set tags, properties or params (kind tag, property or param)."""
    if kind not in _KINDS:
        raise InvalidValueError(f"Unknown attribute kind {kind!r}: use tag, property or param.")
    if kind == "param":
        for k, v in body.values.items():
            if len(v) > m.MAX_PARAM_VALUE:
                raise InvalidValueError(f"Invalid request: body.values.{k}: a param value may have at most "
                                        f"{m.MAX_PARAM_VALUE} characters (MLflow's limit), not {len(v)}.")
    st, pr, rec = resolve_workspace(request, sub, rg, ws, READ)
    st.check_run_write(pr, rec, run_id)
    await call(request, st.store.set_run_attributes, run_id, kind, body.values, write_once=body.write_once)
    return Response(status_code=204)


@router.post(P + "/runs/{run_id}/attributes/{kind}/delete", status_code=204, tags=["runs"])
async def delete_run_attributes(request: Request, sub: str, rg: str, ws: str, run_id: str, kind: str,
                                body: m.KeysBody) -> Response:
    """Delete tags (or other attributes) by key."""
    if kind not in _KINDS:
        raise InvalidValueError(f"Unknown attribute kind {kind!r}: use tag, property or param.")
    st, pr, rec = resolve_workspace(request, sub, rg, ws, READ)
    st.check_run_write(pr, rec, run_id)
    await call(request, st.store.delete_run_attributes, run_id, kind, body.keys)
    return Response(status_code=204)


@router.post(P + "/runs/{run_id}/token", response_model=m.RunToken, tags=["runs"])
async def run_token(request: Request, sub: str, rg: str, ws: str, run_id: str) -> Response:
    """A fresh token scoped to this run (Contributors, or the run itself renewing its token)."""
    st, pr, rec = resolve_workspace(request, sub, rg, ws, READ)
    st.check_run_write(pr, rec, run_id)
    if pr.kind == "run" and pr.run_id != run_id:
        raise AuthError(403, "A run token can renew only itself.")
    token, exp = st.issue_run_token(run_id, issuer=str(request.base_url).rstrip("/"))
    return json_response({"token": token, "expires_on": exp})


# ---------------------------------------------------------------------- metrics
def _float(v: Any) -> float | None:
    if v is None or isinstance(v, float):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str) and v in ("NaN", "Infinity", "-Infinity"):
        return float(v.replace("Infinity", "inf"))
    raise InvalidValueError(f"Metric value {v!r} is not a number, 'NaN', 'Infinity' or null.")


def _batch_columns(batches: list[m.MetricBatch]) -> list[MetricColumns]:
    """The store's columns of the batches received: values made floats where a value is "NaN", "Infinity" or null."""
    records = []
    for b in batches:
        values: Any = b.value
        try:
            sum(values)  # one C pass: raises only when a value is a string ("NaN", ...) or None
        except TypeError:
            values = [_float(v) for v in values]
        records.append(MetricColumns(b.n, b.key, b.kind, values, b.value_json, b.step, b.timestamp))
    return records


@router.post(P + "/metrics", status_code=204, tags=["metrics"], openapi_extra=lambda: {
    "requestBody": {"content": {"application/json": {"schema": m.MetricsBody.model_json_schema()}}}})
async def log_metrics(request: Request, sub: str, rg: str, ws: str) -> Response:
    """Store many metric points in one transaction (rows as in MetricsBody)."""
    st, pr, rec = resolve_workspace(request, sub, rg, ws, READ)
    raw = await request.body()
    with _gc_paused():
        return await _log_metrics(request, st, pr, rec, raw)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a request turns tens of thousands of points into
    objects (none of them in a cycle; freed by reference counting when the request ends).

    Each 700 new objects start a collection, and the points a request holds get promoted into the
    old generation, whose full collections then walk the whole server's heap: in a profile under
    `run.log` at full speed, building the points of a batch cost three times what it costs without
    collections (0.8-0.9 µs a point against 0.27, measured beside a heap of the server's size).
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


async def _log_metrics(request: Request, st: "ServerState", pr: Principal, rec: WorkspaceRecord,
                       raw: bytes) -> Response:
    try:
        # Validated by the model the document shows (parsed in pydantic's own JSON reader: faster than json).
        body = m.MetricsBody.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidValueError(validation_message(exc.errors(), ("body",)) + ' Send {"points": [[run_id, key, '
                                'kind, value, value_json, step, timestamp], ...]}.') from None
    if body.batches is not None:
        if body.run_id is None or body.source is None or body.seq is not None or body.points or body.rows is not None \
                or body.unique:
            raise InvalidValueError("Send 'batches' with 'run_id' and 'source' alone: each batch carries its record "
                                    "number in 'n'.")
        st.check_run_write(pr, rec, body.run_id)
        await call(request, st.store.log_metric_columns_once, body.run_id, body.source, _batch_columns(body.batches))
        return Response(status_code=204)
    points = [MetricPoint(r[0], r[1], r[2], _float(r[3]), r[4], r[5], r[6]) for r in body.points]
    if (body.run_id is None) != (body.rows is None):
        raise InvalidValueError("Send 'run_id' with 'rows' (the points of one run), or 'points' alone.")
    if body.rows is not None:
        run_id = body.run_id
        points += [MetricPoint(run_id, r[0], r[1], _float(r[2]), r[3], r[4], r[5]) for r in body.rows]
    run_ids = {p.run_id for p in points}
    for run_id in run_ids:
        st.check_run_write(pr, rec, run_id)
    if body.unique:
        if len(run_ids) != 1 or body.source is not None:
            raise InvalidValueError("'unique' points belong to exactly one run and carry no 'source' or 'seq'.")
        await call(request, st.store.log_metrics_unique, run_ids.pop(), points)
        return Response(status_code=204)
    if (body.source is None) != (body.seq is None):
        raise InvalidValueError("Send both 'source' and 'seq' (a spool record's id), or neither.")
    if body.source is not None:
        if len(run_ids) != 1:
            raise InvalidValueError("A spool record ('source' and 'seq') holds the points of exactly one run.")
        await call(request, st.store.log_metrics_once, run_ids.pop(), body.source, body.seq, points)
        return Response(status_code=204)
    await call(request, st.store.log_metrics, points)
    return Response(status_code=204)


@router.post(P + "/metrics/query", tags=["metrics"])
async def get_metrics(request: Request, sub: str, rg: str, ws: str, body: m.MetricsQuery) -> Response:
    """Points of runs in logging order, as rows [run_id, key, kind, value, value_json, step, timestamp]."""
    st, pr, rec = resolve_workspace(request, sub, rg, ws, READ)
    for run_id in set(body.run_ids):
        st.check_run_read(pr, rec, run_id)
    points = await call(request, st.store.get_metrics, body.run_ids, body.key)

    def enc(v: float | None) -> Any:
        if v is None or math.isfinite(v):
            return v
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")

    rows = [[p.run_id, p.key, p.kind, enc(p.value), p.value_json, p.step, p.timestamp] for p in points]
    return Response(json.dumps({"points": rows}, separators=(",", ":")), media_type="application/json")


# ---------------------------------------------------------------------- assets
@router.post(P + "/assets/{kind}", response_model=m.AssetOut, tags=["assets"])
async def put_asset(request: Request, sub: str, rg: str, ws: str, kind: str, body: m.AssetIn) -> Response:
    """Store a new version of a named asset."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, WRITE)
    return json_response(await call(request, st.store.put_asset, rec.id, _check_kind(kind), body.name, body.spec,
                                    body.description, body.tags, body.properties))


@router.get(P + "/assets/{kind}", response_model=list[m.AssetOut], tags=["assets"])
async def list_assets(request: Request, sub: str, rg: str, ws: str, kind: str, name: Optional[str] = None) -> Response:
    """Every version of the assets of a kind (of one name when given)."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, READ)
    return json_response(await call(request, st.store.list_assets, rec.id, _check_kind(kind), name))


@router.get(P + "/assets/{kind}/{name}", response_model=m.AssetOut, tags=["assets"])
async def get_asset(request: Request, sub: str, rg: str, ws: str, kind: str, name: str,
                    version: Optional[m.Version] = None) -> Response:
    """One version of an asset (the latest without version); 404 when missing."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, READ)
    out = await call(request, st.store.get_asset, rec.id, _check_kind(kind), name, version)
    if out is None:
        raise NotFoundError(f"{kind} {name}" + (f":{version}" if version is not None else "") + " does not exist.")
    return json_response(out)


@router.patch(P + "/assets/{kind}/{name}/versions/{version}", response_model=m.AssetOut, tags=["assets"])
async def update_asset(request: Request, sub: str, rg: str, ws: str, kind: str, name: str,
                       version: Annotated[int, PathValue(ge=1, le=(1 << 31) - 1)], body: m.AssetUpdate) -> Response:
    """Change an asset version's spec, description, tags or properties."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, WRITE)
    return json_response(await call(request, st.store.update_asset, rec.id, _check_kind(kind), name, version,
                                    **body.model_dump(exclude_unset=True)))


@router.delete(P + "/assets/{kind}/{name}", status_code=204, tags=["assets"])
async def delete_asset(request: Request, sub: str, rg: str, ws: str, kind: str, name: str,
                       version: Optional[m.Version] = None) -> Response:
    """Delete one version, or all versions without version."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, WRITE)
    await call(request, st.store.delete_asset, rec.id, _check_kind(kind), name, version)
    return Response(status_code=204)


# ---------------------------------------------------------------------- secrets
def _secret_names(names: Any) -> None:
    for n in names:
        if not _SECRET.match(n):
            raise InvalidValueError(f"Invalid secret name {n!r}: use 1 to 127 letters, digits and '-'.")


@router.get(P + "/secrets", response_model=list[str], tags=["secrets"])
async def list_secrets(request: Request, sub: str, rg: str, ws: str) -> Response:
    """Secret names (never values)."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, READ)
    return json_response(await call(request, st.store.list_secrets, rec.id))


@router.put(P + "/secrets", status_code=204, tags=["secrets"])
async def set_secrets(request: Request, sub: str, rg: str, ws: str, body: m.SecretsBody) -> Response:
    """Add or overwrite secrets."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, WRITE)
    _secret_names(body.values)
    await call(request, st.store.set_secrets, rec.id, body.values)
    return Response(status_code=204)


@router.post(P + "/secrets/get", response_model=dict[str, Optional[str]], tags=["secrets"])
async def get_secrets(request: Request, sub: str, rg: str, ws: str, body: m.SecretNames) -> Response:
    """Secret values (Contributors, and the workspace's runs; Readers see only names)."""
    st, pr, rec = resolve_workspace(request, sub, rg, ws, READ)
    if pr.kind != "run":
        st.auth.require(pr, arm_id(sub, rg, ws), rec.id, WRITE)
    _secret_names(body.names)
    return json_response(await call(request, st.store.get_secrets, rec.id, body.names))


@router.delete(P + "/secrets/{name}", status_code=204, tags=["secrets"])
async def delete_secret(request: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    """Delete a secret."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, WRITE)
    _secret_names([name])
    await call(request, st.store.delete_secret, rec.id, name)
    return Response(status_code=204)
