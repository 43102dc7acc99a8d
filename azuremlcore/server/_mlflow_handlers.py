"""The MLflow REST handlers that need MLflow itself (protobuf messages, entities, the bridge's store).

Imported on the first such request (see routes_mlflow), so an idle server never loads MLflow.
Requests and answers are MLflow's own protobuf messages in their JSON form; errors carry MLflow's
error codes.
"""
from __future__ import annotations

import json
import threading
from typing import Any, Callable

from mlflow.exceptions import MlflowException
from mlflow.protos import service_pb2 as pb
from mlflow.utils.proto_json_utils import message_to_json, parse_dict
from starlette.requests import Request
from starlette.responses import Response

from azuremlcore._config import arm_id
from azuremlcore._store.errors import NotFoundError
from azuremlcore.server.limits import parse_json
from azuremlcore.server.mlflow_models import MAX_PARAM_VALUE, MAX_TAG_VALUE
from azuremlcore.server.routes_mlflow import ACCESS, R, RUN, W, error, metric_history, ok, rewrite
from azuremlcore.server.security.authz import WRITE, AuthError


# ---------------------------------------------------------------------- the bridge's store, per workspace
class _Stores:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_ws: dict[str, Any] = {}

    def get(self, state: Any, ws_id: str) -> Any:
        with self._lock:
            store = self._by_ws.get(ws_id)
            if store is None:
                from azuremlmlflow._embedded_store import EmbeddedMlflowStore

                # The server process logs no SDK metrics itself, so nothing needs flushing before reads.
                store = EmbeddedMlflowStore.over(state.store, state.artifacts, ws_id, flush_sdk_metrics=False)
                self._by_ws[ws_id] = store
            return store


_stores = _Stores()


def _proto(entity: Any) -> Any:
    return entity.to_proto()


def _json_of(message: Any) -> dict:
    return json.loads(message_to_json(message))


# ---------------------------------------------------------------------- handlers
# Each: (request message class, needs "write" on a run id field / workspace, handler(store, msg, ctx) -> dict)
def _create_experiment(s: Any, m: Any, c: dict) -> dict:
    return {"experiment_id": s.create_experiment(m.name, m.artifact_location or None, [*m.tags] and
                                                 [_tag(t) for t in m.tags])}


def _tag(t: Any) -> Any:
    from mlflow.entities import ExperimentTag

    return ExperimentTag(t.key, t.value)


def _run_tag(t: Any) -> Any:
    from mlflow.entities import RunTag

    # MLflow's server cuts longer values to its limit and stores the rest (measured: 3.17); so do we.
    return RunTag(t.key, t.value[:MAX_TAG_VALUE])


def _param(p: Any) -> Any:
    from mlflow.entities import Param

    return Param(p.key, p.value[:MAX_PARAM_VALUE])


def _search_experiments(s: Any, m: Any, c: dict) -> dict:
    try:
        page = _search_experiments_page(s, m)
    except ValueError as exc:  # a filter or order_by the search cannot read is the caller's error
        raise MlflowException(f"Invalid search: {exc}", error_code=_code("INVALID_PARAMETER_VALUE")) from None
    out: dict = {"experiments": [_json_of(e.to_proto()) for e in page]}
    if page.token:
        out["next_page_token"] = page.token
    return out


def _search_experiments_page(s: Any, m: Any) -> Any:
    return s.search_experiments(view_type=m.view_type or 1, max_results=m.max_results or 1000,
                                filter_string=m.filter or None, order_by=list(m.order_by) or None,
                                page_token=m.page_token or None)


def _get_experiment(s: Any, m: Any, c: dict) -> dict:
    return {"experiment": _json_of(s.get_experiment(m.experiment_id).to_proto())}


def _get_experiment_by_name(s: Any, m: Any, c: dict) -> dict:
    exp = s.get_experiment_by_name(m.experiment_name)
    if exp is None:
        raise MlflowException(f"Could not find experiment with name '{m.experiment_name}'",
                              error_code=_code("RESOURCE_DOES_NOT_EXIST"))
    return {"experiment": _json_of(exp.to_proto())}


def _code(name: str) -> int:
    from mlflow.protos.databricks_pb2 import ErrorCode

    return ErrorCode.Value(name)


def _create_run(s: Any, m: Any, c: dict) -> dict:
    run = s.create_run(m.experiment_id, m.user_id, m.start_time or None, [_run_tag(t) for t in m.tags],
                       m.run_name or None)
    return {"run": _json_of(run.to_proto())}


def _update_run(s: Any, m: Any, c: dict) -> dict:
    from mlflow.entities import RunStatus

    run_id = m.run_id or m.run_uuid
    status = RunStatus.to_string(m.status) if m.HasField("status") else s.get_run(run_id).info.status
    info = s.update_run_info(run_id, RunStatus.from_string(status),
                             m.end_time if m.HasField("end_time") else None, m.run_name or None)
    return {"run_info": _json_of(info.to_proto())}


def _log_batch(s: Any, m: Any, c: dict) -> dict:
    from mlflow.entities import Metric
    from mlflow.utils import validation

    # As MLflow's server: at most 1000 metrics, 100 params, 100 tags, 1000 in all per request.
    limits = getattr(validation, "_validate_batch_log_limits", None)
    if limits is not None:
        limits(m.metrics, m.params, m.tags)
    s.log_batch(m.run_id, [Metric(x.key, x.value, x.timestamp, x.step) for x in m.metrics],
                [_param(p) for p in m.params], [_run_tag(t) for t in m.tags])
    return {}


def _log_metric(s: Any, m: Any, c: dict) -> dict:
    from mlflow.entities import Metric

    run_id = m.run_id or m.run_uuid
    s.log_batch(run_id, [Metric(m.key, m.value, m.timestamp, m.step or 0)], [], [])
    return {}


def _log_param(s: Any, m: Any, c: dict) -> dict:
    s.log_batch(m.run_id or m.run_uuid, [], [_param(m)], [])
    return {}


def _set_tag(s: Any, m: Any, c: dict) -> dict:
    s.log_batch(m.run_id or m.run_uuid, [], [], [_run_tag(m)])
    return {}


def _search_runs(s: Any, m: Any, c: dict) -> dict:
    page = s.search_runs(list(m.experiment_ids), m.filter or None, m.run_view_type or 1, m.max_results or 1000,
                         list(m.order_by) or None, m.page_token or None)
    resp = pb.SearchRuns.Response()
    resp.runs.extend([r.to_proto() for r in page])
    if page.token:
        resp.next_page_token = page.token
    return message_to_json(resp)


def _metric_history(s: Any, m: Any, c: dict) -> Any:
    c["check_read"](m.run_id or m.run_uuid)
    return metric_history(c["state"].store, m.run_id or m.run_uuid, m.metric_key, m.max_results or None,
                          m.page_token or None)


def _simple(method: str) -> Callable[[Any, Any, dict], dict]:
    def handler(s: Any, m: Any, c: dict) -> dict:
        getattr(s, method)(*{
            "delete_experiment": lambda: (m.experiment_id,), "restore_experiment": lambda: (m.experiment_id,),
            "rename_experiment": lambda: (m.experiment_id, m.new_name),
            "set_experiment_tag": lambda: (m.experiment_id, _tag(m)),
            "delete_experiment_tag": lambda: (m.experiment_id, m.key),
            "delete_run": lambda: (m.run_id,), "restore_run": lambda: (m.run_id,),
            "delete_tag": lambda: (m.run_id, m.key)}[method]())
        return {}
    return handler


def _get_run(s: Any, m: Any, c: dict) -> dict:
    return {"run": _json_of(s.get_run(m.run_id or m.run_uuid).to_proto())}


def _log_inputs(s: Any, m: Any, c: dict) -> dict:
    from mlflow.entities import DatasetInput, LoggedModelInput

    s.log_inputs(m.run_id, [DatasetInput.from_proto(d) for d in m.datasets] or None,
                 [LoggedModelInput.from_proto(x) for x in m.models] or None)
    return {}


def _log_outputs(s: Any, m: Any, c: dict) -> dict:
    from mlflow.entities import LoggedModelOutput

    s.log_outputs(m.run_id, [LoggedModelOutput.from_proto(x) for x in m.models])
    return {}


def _log_model(s: Any, m: Any, c: dict) -> dict:
    from mlflow.models import Model

    s.record_logged_model(m.run_id, Model.from_dict(json.loads(m.model_json)))
    return {}


def _create_logged_model(s: Any, m: Any, c: dict) -> dict:
    from mlflow.entities import LoggedModelParameter, LoggedModelTag

    model = s.create_logged_model(m.experiment_id, m.name or None, m.source_run_id or None,
                                  [LoggedModelTag(t.key, t.value) for t in m.tags],
                                  [LoggedModelParameter(p.key, p.value) for p in m.params], m.model_type or None)
    return {"model": _json_of(model.to_proto())}


def _get_logged_model(s: Any, m: Any, c: dict) -> dict:
    return {"model": _json_of(s.get_logged_model(c["model_id"]).to_proto())}


def _finalize_logged_model(s: Any, m: Any, c: dict) -> dict:
    from mlflow.entities import LoggedModelStatus

    return {"model": _json_of(s.finalize_logged_model(c["model_id"], LoggedModelStatus.from_int(m.status)).to_proto())}


def _delete_logged_model(s: Any, m: Any, c: dict) -> dict:
    s.delete_logged_model(c["model_id"])
    return {}


def _set_logged_model_tags(s: Any, m: Any, c: dict) -> dict:
    from mlflow.entities import LoggedModelTag

    s.set_logged_model_tags(c["model_id"], [LoggedModelTag(t.key, t.value) for t in m.tags])
    return {"model": _json_of(s.get_logged_model(c["model_id"]).to_proto())}


def _delete_logged_model_tag(s: Any, m: Any, c: dict) -> dict:
    s.delete_logged_model_tag(c["model_id"], c["tag_key"])
    return {}


def _search_logged_models(s: Any, m: Any, c: dict) -> dict:
    page = s.search_logged_models(list(m.experiment_ids), m.filter or None,
                                  [{"dataset_name": d.dataset_name, "dataset_digest": d.dataset_digest or None}
                                   for d in m.datasets] or None, m.max_results or 100,
                                  [{"field_name": o.field_name, "ascending": o.ascending,
                                    "dataset_name": o.dataset_name or None, "dataset_digest": o.dataset_digest or None}
                                   for o in m.order_by] or None, m.page_token or None)
    out: dict = {"models": [_json_of(x.to_proto()) for x in page]}
    if page.token:
        out["next_page_token"] = page.token
    return out


def _log_logged_model_params(s: Any, m: Any, c: dict) -> dict:
    from mlflow.entities import LoggedModelParameter

    s.log_logged_model_params(c["model_id"], [LoggedModelParameter(p.key, p.value) for p in m.params])
    return {}


# path (after /api/2.0/mlflow) -> {method: (message class, access, handler)}; access as in routes_mlflow.ACCESS
_R, _W, _RUN = R, W, RUN
ROUTES: dict[str, dict[str, tuple[Any, str, Callable[[Any, Any, dict], Any]]]] = {
    "/experiments/create": {"POST": (pb.CreateExperiment, _W, _create_experiment)},
    "/experiments/search": {"POST": (pb.SearchExperiments, _R, _search_experiments),
                            "GET": (pb.SearchExperiments, _R, _search_experiments)},
    "/experiments/get": {"GET": (pb.GetExperiment, _R, _get_experiment)},
    "/experiments/get-by-name": {"GET": (pb.GetExperimentByName, _R, _get_experiment_by_name)},
    "/experiments/delete": {"POST": (pb.DeleteExperiment, _W, _simple("delete_experiment"))},
    "/experiments/restore": {"POST": (pb.RestoreExperiment, _W, _simple("restore_experiment"))},
    "/experiments/update": {"POST": (pb.UpdateExperiment, _W, _simple("rename_experiment"))},
    "/experiments/set-experiment-tag": {"POST": (pb.SetExperimentTag, _W, _simple("set_experiment_tag"))},
    "/experiments/delete-experiment-tag": {"POST": (pb.DeleteExperimentTag, _W, _simple("delete_experiment_tag"))},
    "/runs/create": {"POST": (pb.CreateRun, _W, _create_run)},
    "/runs/update": {"POST": (pb.UpdateRun, _RUN, _update_run)},
    "/runs/delete": {"POST": (pb.DeleteRun, _RUN, _simple("delete_run"))},
    "/runs/restore": {"POST": (pb.RestoreRun, _RUN, _simple("restore_run"))},
    "/runs/get": {"GET": (pb.GetRun, _R, _get_run)},
    "/runs/search": {"POST": (pb.SearchRuns, _R, _search_runs)},
    "/runs/log-metric": {"POST": (pb.LogMetric, _RUN, _log_metric)},
    "/runs/log-parameter": {"POST": (pb.LogParam, _RUN, _log_param)},
    "/runs/set-tag": {"POST": (pb.SetTag, _RUN, _set_tag)},
    "/runs/delete-tag": {"POST": (pb.DeleteTag, _RUN, _simple("delete_tag"))},
    "/runs/log-batch": {"POST": (pb.LogBatch, _RUN, _log_batch)},
    "/runs/log-inputs": {"POST": (pb.LogInputs, _RUN, _log_inputs)},
    "/runs/outputs": {"POST": (pb.LogOutputs, _RUN, _log_outputs)},
    "/runs/log-model": {"POST": (pb.LogModel, _RUN, _log_model)},
    "/metrics/get-history": {"GET": (pb.GetMetricHistory, _R, _metric_history)},
    "/logged-models": {"POST": (pb.CreateLoggedModel, _W, _create_logged_model)},
    "/logged-models/search": {"POST": (pb.SearchLoggedModels, _R, _search_logged_models)},
    "/logged-models/{model_id}": {"GET": (pb.GetLoggedModel, _R, _get_logged_model),
                                  "PATCH": (pb.FinalizeLoggedModel, _W, _finalize_logged_model),
                                  "DELETE": (pb.DeleteLoggedModel, _W, _delete_logged_model)},
    "/logged-models/{model_id}/tags": {"PATCH": (pb.SetLoggedModelTags, _W, _set_logged_model_tags)},
    "/logged-models/{model_id}/tags/{tag_key}": {"DELETE": (pb.DeleteLoggedModelTag, _W, _delete_logged_model_tag)},
    "/logged-models/{model_id}/params": {"POST": (pb.LogLoggedModelParamsRequest, _W, _log_logged_model_params)},
}


def _repeated(field: Any) -> bool:
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag() if callable(flag) else flag)
    return field.label == field.LABEL_REPEATED


def _parse(request: Request, body: bytes, msg_cls: Any) -> Any:
    msg = msg_cls()
    if request.method == "GET":
        data: dict[str, Any] = {}
        fields = msg_cls.DESCRIPTOR.fields_by_name
        for k in request.query_params:
            f = fields.get(k)
            if f is None:
                continue
            values = request.query_params.getlist(k)
            conv = (lambda v: v.lower() == "true") if f.type == f.TYPE_BOOL else (lambda v: v)
            data[k] = [conv(v) for v in values] if _repeated(f) else conv(values[-1])
    else:
        data = parse_json(body) if body.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("the request body must be a JSON object")
    parse_dict(data, msg)
    return msg


def _logged_model_run(path: str, msg: Any, params: dict, st: Any, ws: Any) -> str | None:
    """The run a logged-model write acts for (its source run), or None for other writes."""
    if not path.startswith("/logged-models"):
        return None
    if path == "/logged-models":
        return getattr(msg, "source_run_id", None) or None
    from azuremlcore.server.routes_mlflow import logged_model_source_run

    return logged_model_source_run(st, ws, params.get("model_id", ""))


def dispatch(path: str, request: Request, body: bytes, st: Any, pr: Any, ws: Any) -> Response:
    """Answer one MLflow request whose workspace and Reader access are already checked."""
    msg_cls, access, handler = ROUTES[path][request.method]
    try:
        try:
            msg = _parse(request, body, msg_cls)
        except Exception as exc:  # noqa: BLE001 - any parse failure is the caller's malformed input
            return error("INVALID_PARAMETER_VALUE", f"Malformed request for {path}: {exc}")
        if access == _W:
            if pr.kind == "run":
                # A job's MLflow 3 log_model creates and finalizes a logged model of its own run.
                owner = _logged_model_run(path, msg, request.path_params, st, ws)
                if owner is None:
                    raise AuthError(403, "A run token may write only its own run.")
                st.check_run_write(pr, ws, owner)
            else:
                st.auth.require(pr, arm_id(ws.subscription_id, ws.resource_group, ws.name), ws.id, WRITE)
        elif access == _RUN:
            run_id = getattr(msg, "run_id", "") or getattr(msg, "run_uuid", "")
            if not run_id:
                return error("INVALID_PARAMETER_VALUE", "Missing value for required parameter 'run_id'.")
            try:
                st.check_run_write(pr, ws, run_id)
            except NotFoundError:
                return error("RESOURCE_DOES_NOT_EXIST", f"Run '{run_id}' not found")
        store = _stores.get(st, ws.id)
        ctx = {"state": st, **request.path_params, "check_read": lambda run_id: st.check_run_read(pr, ws, run_id)}
        out = handler(store, msg, ctx)
        if access != _R and path == "/runs/create":
            st.remember_run(out["run"]["info"]["run_id"], ws.id, None)
        return ok(rewrite(out, st, ws.id))
    except MlflowException as exc:
        return error(exc.error_code, exc.message, exc.get_http_status_code())


assert set(ROUTES) == set(ACCESS) and all(
    {m: e[1] for m, e in t.items()} == ACCESS[p] for p, t in ROUTES.items()), "routes_mlflow.ACCESS is out of date"
