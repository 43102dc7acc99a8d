"""MLflow's experiment and run requests answered from the store, without MLflow: what clients send all day.

Creating and reading experiments and runs, updating runs, params and tags (alone or in a
log-batch) and searching runs are answered here from the validated request model
(`mlflow_models`) in MLflow's JSON shapes, so no request waits for MLflow to load and an idle
server never holds it. A handler returns None for what it leaves to MLflow's own path
(`_mlflow_handlers`): names outside MLflow's plain rules, experiment tags, a search string this
reader does not cover, datasets; there MLflow's validation and error messages apply unchanged.
"""
from __future__ import annotations

import base64
import math
import random
import uuid
from typing import Any, Callable

from starlette.responses import Response

from azuremlcore._store.errors import AlreadyExistsError, InvalidValueError, NotFoundError
from azuremlcore._store.records import ExperimentRecord, MetricPoint, RunRecord
from azuremlcore._timeutil import now_ms
from azuremlcore.server import _mlflow_search as grammar
from azuremlcore.server import mlflow_models as mm
from azuremlcore.server._json import dumps
from azuremlcore.server._mlflow_common import error, ok, plain_name
from azuremlcore.server.security.authz import WRITE

RUN_NAME_TAG, PARENT_TAG = "mlflow.runName", "mlflow.parentRunId"
INPUTS_DETAIL, OUTPUTS_DETAIL = "_mlflow_inputs", "_mlflow_outputs"
_MLFLOW_RUN_TYPE, _SCRIPT_RUN_TYPE = "azureml.interactive", "azureml.scriptrun"
DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME = "0", "Default"
_TO_MLFLOW = {"NotStarted": "SCHEDULED", "Starting": "SCHEDULED", "Provisioning": "SCHEDULED",
              "Preparing": "SCHEDULED", "Queued": "SCHEDULED", "Running": "RUNNING", "Finalizing": "RUNNING",
              "CancelRequested": "RUNNING", "NotResponding": "RUNNING", "Completed": "FINISHED", "Failed": "FAILED",
              "Canceled": "KILLED"}
_FROM_MLFLOW = {"RUNNING": "Running", "SCHEDULED": "Queued", "FINISHED": "Completed", "FAILED": "Failed",
                "KILLED": "Canceled", 1: "Running", 2: "Queued", 3: "Completed", 4: "Failed", 5: "Canceled"}
_VIEW = {None: "active", 1: "active", "ACTIVE_ONLY": "active", 2: "deleted", "DELETED_ONLY": "deleted",
         3: None, "ALL": None}
_ADJECTIVES = ("able", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fair", "fleet", "gentle",
               "glad", "keen", "kind", "lively", "lucky", "merry", "neat", "noble", "quick", "quiet", "sharp",
               "silent", "sunny", "swift", "tidy", "vivid", "warm", "wise", "zesty")
_NOUNS = ("ant", "bat", "bear", "crane", "deer", "dove", "eel", "finch", "fox", "frog", "gull", "hare", "hawk",
          "heron", "ibis", "jay", "koala", "lark", "lynx", "mole", "newt", "otter", "owl", "panda", "quail", "robin",
          "seal", "swan", "toad", "wolf", "wren", "yak")


def random_name() -> str:
    """A readable run name (adjective-animal-number), as MLflow gives unnamed runs."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(0, 999)}"


_plain = plain_name


# ---------------------------------------------------------------------- JSON shapes (MLflow's messages)
def _number(v: float) -> Any:
    if math.isfinite(v):
        return v
    return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")


def experiment_json(rec: ExperimentRecord) -> dict[str, Any]:
    """An Experiment message (artifact location: the server's proxied artifacts)."""
    out: dict[str, Any] = {"experiment_id": rec.id, "name": rec.name,
                           "artifact_location": "mlflow-artifacts:/experiments",
                           "lifecycle_stage": "deleted" if rec.archived_time else "active",
                           "last_update_time": rec.last_update_time, "creation_time": rec.created_time}
    if rec.tags:
        out["tags"] = [{"key": k, "value": v} for k, v in rec.tags.items()]
    return out


def run_info_json(rec: RunRecord) -> dict[str, Any]:
    """A RunInfo message."""
    info: dict[str, Any] = {"run_uuid": rec.id, "experiment_id": rec.experiment_id,
                            "run_name": rec.display_name or rec.id, "user_id": rec.submitted_by or "",
                            "status": _TO_MLFLOW.get(rec.status, "RUNNING"),
                            "start_time": rec.start_time or rec.created_time}
    if rec.end_time is not None:
        info["end_time"] = rec.end_time
    info.update({"artifact_uri": f"mlflow-artifacts:/runs/{rec.id}", "lifecycle_stage": rec.lifecycle_stage,
                 "run_id": rec.id})
    return info


def run_json(rec: RunRecord, latest: list[MetricPoint]) -> dict[str, Any]:
    """A Run message: info, data (latest metrics, params, tags with the name and parent), inputs, outputs."""
    tags = dict(rec.tags)
    tags[RUN_NAME_TAG] = rec.display_name or rec.id
    if rec.parent_id and PARENT_TAG not in tags:
        tags[PARENT_TAG] = rec.parent_id
    data: dict[str, Any] = {}
    if latest:
        data["metrics"] = [{"key": p.key, "value": _number(p.value), "timestamp": p.timestamp,  # type: ignore[arg-type]
                            "step": p.step} for p in latest]
    if rec.params:
        data["params"] = [{"key": k, "value": v} for k, v in rec.params.items()]
    data["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    inputs: dict[str, Any] = {}
    stored = rec.details.get(INPUTS_DETAIL) or {}
    if stored.get("datasets"):
        inputs["dataset_inputs"] = [_dataset_input(d) for d in stored["datasets"]]
    if stored.get("models"):
        inputs["model_inputs"] = [{"model_id": m} for m in stored["models"]]
    outputs: dict[str, Any] = {}
    if rec.details.get(OUTPUTS_DETAIL):
        outputs["model_outputs"] = [{"model_id": o["model_id"], "step": o["step"]}
                                    for o in rec.details[OUTPUTS_DETAIL]]
    return {"info": run_info_json(rec), "data": data, "inputs": inputs, "outputs": outputs}


def _dataset_input(d: dict[str, Any]) -> dict[str, Any]:
    dataset = {k: d[k] for k in ("name", "digest", "source_type", "source", "schema", "profile") if d.get(k)}
    out: dict[str, Any] = {"dataset": dataset}
    if d.get("tags"):
        out["tags"] = [{"key": k, "value": v} for k, v in d["tags"].items()]
    return out


def _latest_by_run(st: Any, run_ids: list[str]) -> dict[str, list[MetricPoint]]:
    by_run: dict[str, list[MetricPoint]] = {r: [] for r in run_ids}
    for p in st.store.latest_metrics(run_ids, ("scalar", "list")):
        by_run[p.run_id].append(p)
    return by_run


# ---------------------------------------------------------------------- handlers
Handler = Callable[[Any, Any, Any, Any, dict], "Response | None"]


def _experiment(st: Any, ws: Any, experiment_id: str) -> ExperimentRecord | None:
    if str(experiment_id) == DEFAULT_EXPERIMENT_ID:
        return st.store.get_or_create_experiment(ws.id, DEFAULT_EXPERIMENT_NAME)
    try:
        return st.store.get_experiment(ws.id, experiment_id=str(experiment_id))
    except NotFoundError:
        return None


def _no_experiment(experiment_id: str) -> Response:
    return error("RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={experiment_id} exists")


def _require_write(st: Any, pr: Any, ws: Any) -> None:
    from azuremlcore._config import arm_id
    from azuremlcore.server.security.authz import AuthError

    if pr.kind == "run":
        raise AuthError(403, "A run token may write only its own run.")
    st.auth.require(pr, arm_id(ws.subscription_id, ws.resource_group, ws.name), ws.id, WRITE)


def _create_experiment(st: Any, pr: Any, ws: Any, m: mm.CreateExperiment, p: dict) -> Response | None:
    if m.tags or m.artifact_location:
        return None
    _require_write(st, pr, ws)
    try:
        rec = st.store.create_experiment(ws.id, m.name)
    except AlreadyExistsError:
        return error("RESOURCE_ALREADY_EXISTS", f"Experiment(name={m.name}) already exists.")
    return ok(dumps({"experiment_id": rec.id}))


def _get_experiment(st: Any, pr: Any, ws: Any, m: mm.ExperimentId, p: dict) -> Response | None:
    rec = _experiment(st, ws, m.experiment_id)
    if rec is None:
        return _no_experiment(m.experiment_id)
    return ok(dumps({"experiment": experiment_json(rec)}))


def _get_experiment_by_name(st: Any, pr: Any, ws: Any, m: mm.GetExperimentByName, p: dict) -> Response | None:
    try:
        rec = st.store.get_experiment(ws.id, name=m.experiment_name)
    except NotFoundError:
        return error("RESOURCE_DOES_NOT_EXIST", f"Could not find experiment with name '{m.experiment_name}'")
    return ok(dumps({"experiment": experiment_json(rec)}))


def _tags_plain(tags: list[mm.Tag]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for t in tags:
        if not _plain(t.key) or len(t.key) > mm.MAX_KEY:
            return None
        out[t.key] = (t.value or "")[:mm.MAX_TAG_VALUE]
    return out


def _create_run(st: Any, pr: Any, ws: Any, m: mm.CreateRun, p: dict) -> Response | None:
    tags = _tags_plain(m.tags)
    if tags is None:
        return None
    name_tag = tags.pop(RUN_NAME_TAG, None)
    if m.run_name and name_tag and m.run_name != name_tag:
        return None  # MLflow's own message for the conflict
    _require_write(st, pr, ws)
    exp = _experiment(st, ws, m.experiment_id or DEFAULT_EXPERIMENT_ID)
    if exp is None:
        return _no_experiment(m.experiment_id or "")
    if exp.archived_time:
        return error("INVALID_STATE", f"The experiment {exp.id} must be in the 'active' state. Current state is "
                                      "deleted.")
    parent_id = tags.get(PARENT_TAG)
    if parent_id:
        owner = st.run_owner(parent_id)
        parent_id = parent_id if owner is not None and owner[0] == ws.id else None
    t = m.start_time or now_ms()
    rec = RunRecord(id=uuid.uuid4().hex, workspace_id=ws.id, experiment_id=exp.id, parent_id=parent_id,
                    type=_MLFLOW_RUN_TYPE, display_name=m.run_name or name_tag or random_name(), status="Running",
                    target="local", submitted_by=m.user_id or None, created_time=t, start_time=t, tags=tags,
                    properties={"azureml.runsource": "mlflow"})
    st.store.create_run(rec)
    st.remember_run(rec.id, ws.id, parent_id)
    return ok(dumps({"run": run_json(rec, [])}))


def _run_or_error(st: Any, ws: Any, run_id: str) -> RunRecord | Response:
    owner = st.run_owner(run_id)
    if owner is None or owner[0] != ws.id:
        return error("RESOURCE_DOES_NOT_EXIST", f"Run '{run_id}' not found")
    return st.store.get_run(run_id)


def _get_run(st: Any, pr: Any, ws: Any, m: mm.RunOnly, p: dict) -> Response | None:
    rec = _run_or_error(st, ws, m.run_id or m.run_uuid or "")
    if isinstance(rec, Response):
        return rec
    return ok(dumps({"run": run_json(rec, _latest_by_run(st, [rec.id])[rec.id])}))


def _update_run(st: Any, pr: Any, ws: Any, m: mm.UpdateRun, p: dict) -> Response | None:
    run_id = m.run_id or m.run_uuid or ""
    if m.status is not None and m.status not in _FROM_MLFLOW:
        return None
    st.check_run_write(pr, ws, run_id)
    rec = st.store.get_run(run_id)
    fields: dict[str, Any] = {}
    if m.run_name:
        fields["display_name"] = m.run_name
    # A submitted script run's status belongs to its runner (a script's end_run() must not complete the job).
    if rec.type != _SCRIPT_RUN_TYPE and m.status is not None:
        fields["status"] = _FROM_MLFLOW[m.status]
        fields["end_time"] = m.end_time
        if fields["status"] == "Running" and rec.start_time is None:
            fields["start_time"] = now_ms()
    if fields:
        rec = st.store.update_run(run_id, **fields)
    return ok(dumps({"run_info": run_info_json(rec)}))


def _write_attributes(st: Any, pr: Any, ws: Any, run_id: str, params: dict[str, str],
                      tags: dict[str, str]) -> Response | None:
    """Params (write-once) then tags of an active run; None when done, else the error answer."""
    st.check_run_write(pr, ws, run_id)
    try:
        if st.store.run_lifecycle_stage(run_id) != "active":
            return error("INVALID_PARAMETER_VALUE", f"The run {run_id} must be in the 'active' state. Current "
                                                    "state is deleted.")
        if params:
            st.store.set_run_attributes(run_id, "param", params, write_once=True)
        name = tags.pop(RUN_NAME_TAG, None)
        if name:
            st.store.update_run(run_id, display_name=name)
        if tags:
            st.store.set_run_attributes(run_id, "tag", tags)
    except InvalidValueError as exc:
        return error("INVALID_PARAMETER_VALUE", str(exc))
    return None


def _params_plain(params: list[mm.Param]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for q in params:
        if not _plain(q.key) or q.value is None:
            return None
        value = q.value[:mm.MAX_PARAM_VALUE]
        if out.get(q.key, value) != value:
            return None  # the same key twice with two values: MLflow's message
        out[q.key] = value
    return out


def _log_values(st: Any, pr: Any, ws: Any, run_id: str, params: dict[str, str], tags: dict[str, str],
                points: list[MetricPoint]) -> Response:
    """Params, tags and points of an active run in one transaction (the run name tag renames the run first)."""
    st.check_run_write(pr, ws, run_id)
    if RUN_NAME_TAG in tags:
        failed = _write_attributes(st, pr, ws, run_id, {}, {RUN_NAME_TAG: tags.pop(RUN_NAME_TAG)})
        if failed is not None:
            return failed
    try:
        st.store.log_metrics_unique(run_id, points, lifecycle_stage="active", params=params, tags=tags)
    except InvalidValueError as exc:
        return error("INVALID_PARAMETER_VALUE", str(exc))
    return ok("{}")


def _log_param(st: Any, pr: Any, ws: Any, m: mm.LogParam, p: dict) -> Response | None:
    params = _params_plain([mm.Param(key=m.key, value=m.value)])
    if params is None:
        return None
    return _log_values(st, pr, ws, m.run_id or m.run_uuid or "", params, {}, [])


def _set_tag(st: Any, pr: Any, ws: Any, m: mm.SetTag, p: dict) -> Response | None:
    tags = _tags_plain([mm.Tag(key=m.key, value=m.value)])
    if tags is None:
        return None
    return _log_values(st, pr, ws, m.run_id or m.run_uuid or "", {}, tags, [])


def _log_batch(st: Any, pr: Any, ws: Any, m: mm.LogBatch, p: dict) -> Response | None:
    run_id = m.run_id or m.run_uuid or ""
    params, tags = _params_plain(m.params), _tags_plain(m.tags)
    if params is None or tags is None or any(not _plain(x.key) or getattr(x, "model_id", None) for x in m.metrics):
        return None
    points = [MetricPoint(run_id, x.key, "scalar", float(x.value), None, int(x.step or 0), int(x.timestamp))
              for x in m.metrics]
    return _log_values(st, pr, ws, run_id, params, tags, points)


def _offset(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        import json

        value = json.loads(base64.b64decode(token, validate=True))["offset"]
    except (ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) and value >= 0 else None


def _search_runs(st: Any, pr: Any, ws: Any, m: mm.SearchRuns, p: dict) -> Response | None:
    try:
        clauses = grammar.parse_filter(m.filter)
        order = grammar.parse_order_by(m.order_by)
    except grammar.Unsupported:
        return None
    offset = _offset(m.page_token)
    if offset is None:
        return error("INVALID_PARAMETER_VALUE", "Invalid page token, could not base64-decode")
    if m.run_view_type not in _VIEW:
        return None
    exp_ids = []
    for e in m.experiment_ids:
        rec = _experiment(st, ws, e)
        if rec is None:
            return _no_experiment(e)
        exp_ids.append(rec.id)
    limit = m.max_results or 1000
    found = st.store.find_runs_with_metrics(ws.id, exp_ids, _VIEW[m.run_view_type], clauses, order, limit + 1, offset)
    page = found[:limit]
    out: dict[str, Any] = {"runs": [run_json(r, latest) for r, latest in page]}
    if len(found) > limit:
        out["next_page_token"] = base64.b64encode(dumps({"offset": offset + limit}).encode()).decode()
    for r, _ in page:
        st.remember_run(r.id, ws.id, r.parent_id)
    return ok(dumps(out))


#: path (after /api/2.0/mlflow) -> handler(state, principal, workspace, validated message, path params)
HANDLERS: dict[str, Handler] = {
    "/experiments/create": _create_experiment, "/experiments/get": _get_experiment,
    "/experiments/get-by-name": _get_experiment_by_name, "/runs/create": _create_run, "/runs/get": _get_run,
    "/runs/update": _update_run, "/runs/log-parameter": _log_param, "/runs/set-tag": _set_tag,
    "/runs/log-batch": _log_batch, "/runs/search": _search_runs,
}
