"""MLflow's tracking REST API under each workspace's path, for the stock `mlflow` client.

`MLFLOW_TRACKING_URI=<server>/subscriptions/.../workspaces/<ws>` and `MLFLOW_TRACKING_TOKEN=<token>`
make the stock client log into that workspace. This module never imports MLflow: the hot paths
(`log-metric` and `log-batch` of plain metrics, metric history) are answered straight from JSON and
SQL, and everything else goes to `_mlflow_handlers`, imported on the first such request, which
uses MLflow's own messages and the bridge's store (`azuremlmlflow`). Anything the hot paths do
not recognise as plain takes that full path too, so MLflow's validation and error messages apply.
Run artifacts are the run's files, served by the proxied `mlflow-artifacts` routes.
"""
from __future__ import annotations

import json
import logging
import math
import re
from typing import Any, Callable

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Match, Route

from azuremlcore._config import arm_id
from azuremlcore._store.artifacts import clean_name
from azuremlcore._store.errors import NotFoundError, StoreError
from azuremlcore._store.records import MetricPoint
from azuremlcore.server import _mlflow_tracking, mlflow_models
from azuremlcore.server._common import WS_PATH, resolve_workspace
from azuremlcore.server._history_ahead import history_answer
from azuremlcore.server._metric_decode import PlainPoints, decode_batch, decode_single
# What the full path (_mlflow_handlers) shares with this module lives below both (no import loop).
from azuremlcore.server._mlflow_common import (  # noqa: F401 - ACCESS, error, ok, rewrite are used from here too
    ACCESS, GOOD_NAMES, HISTORY_PAGE, LOGGED_MODEL_KIND, RUN, R, W, error, logged_model_source_run, metric_history, ok,
    plain_name, rewrite)
from azuremlcore.server.limits import parse_json
from azuremlcore.server.security.authz import READ, WRITE, AuthError

# ---------------------------------------------------------------------- hot paths, no MLflow import
_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_INT64 = 1 << 63
_METRIC_FIELDS = frozenset({"key", "value", "timestamp", "step"})
_good_names = GOOD_NAMES


def _plain_point(run_id: str, d: Any) -> MetricPoint | None:
    """The point of a plain metric (name, number, timestamp >= 0, optional step), else None (full path)."""
    if type(d) is not dict or not d.keys() <= _METRIC_FIELDS:
        return None
    key, v, ts, step = d.get("key"), d.get("value"), d.get("timestamp"), d.get("step", 0)
    if key not in _good_names and not plain_name(key):
        return None
    if type(v) is not float:  # the common case costs one check; ints and the JSON names of NaN/inf follow
        if type(v) is int:
            v = float(v)
        elif type(v) is str and v in _SPECIAL:
            v = _SPECIAL[v]
        else:
            return None
    if type(ts) is not int or not 0 <= ts < _INT64 or type(step) is not int or not -_INT64 <= step < _INT64:
        return None
    return MetricPoint(run_id, key, "scalar", v, None, step, ts)


def _plain_body(body: bytes) -> dict | None:
    try:
        data = parse_json(body)  # refuses deep nesting without recursing (see server.limits)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _store_points(st: Any, pr: Any, ws: Any, kind: bytes, body: bytes, run_id: str,
                  points: list[MetricPoint] | PlainPoints) -> Response:
    try:
        st.check_run_write(pr, ws, run_id)
    except NotFoundError:
        return error("RESOURCE_DOES_NOT_EXIST", f"Run '{run_id}' not found")
    ingest = st.ingest
    if ingest is not None:
        if ingest.accepts(run_id):  # journaled and answered; stored right after the answer (server._ingest)
            ingest.submit(kind, body, run_id, points)
            return ok("{}")
        ingest.drain()  # in order after what is pending
    # One write transaction: the run must be active, identical points (a retried call) are skipped.
    st.store.log_metrics_unique(run_id, list(points), lifecycle_stage="active")
    if ingest is not None:
        ingest.known_active(run_id)
    return ok("{}")


def log_metric_points(body: bytes) -> tuple[str, list[MetricPoint] | PlainPoints] | None:
    """The run id and point of a plain `runs/log-metric` body, else None (the validated path answers)."""
    typed = decode_single(body)  # the usual body, decoded by type in C; None leaves it to the walk below
    if typed is not None:
        return typed
    data = _plain_body(body)
    if data is None or not {"run_id", "run_uuid", "key", "value", "timestamp", "step"}.issuperset(data):
        return None
    run_id = data.get("run_id") or data.get("run_uuid")
    point = _plain_point(run_id, {k: v for k, v in data.items() if k in _METRIC_FIELDS}) \
        if isinstance(run_id, str) and run_id else None
    return None if point is None else (run_id, [point])


def log_batch_points(body: bytes) -> tuple[str, list[MetricPoint] | PlainPoints] | None:
    """The run id and points of a `runs/log-batch` body of plain metrics only, else None (the validated path).

    The points of the usual body come as `PlainPoints` (built as `MetricPoint`s when stored, after the answer).
    """
    typed = decode_batch(body)  # the usual body, decoded by type in C (server._metric_decode)
    if typed is not None:
        return typed if _RUN_ID.match(typed[0]) else None
    data = _plain_body(body)
    if data is None or not {"run_id", "metrics", "params", "tags"}.issuperset(data) or data.get("params") \
            or data.get("tags"):
        return None
    run_id, metrics = data.get("run_id"), data.get("metrics") or []
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id) or not isinstance(metrics, list) \
            or not 0 < len(metrics) <= 1000:
        return None
    # _plain_point inlined for the usual shape (float value, int timestamp and step): 1,000 points a call.
    points, good, fields, big, point = [], _good_names, _METRIC_FIELDS, _INT64, MetricPoint
    for d in metrics:
        if type(d) is dict and d.keys() <= fields:
            key, v, ts, step = d.get("key"), d.get("value"), d.get("timestamp"), d.get("step", 0)
            if key in good and type(v) is float and type(ts) is int and type(step) is int \
                    and 0 <= ts < big and -big <= step < big:
                points.append(point(run_id, key, "scalar", v, None, step, ts))
                continue
        p = _plain_point(run_id, d)
        if p is None:
            return None
        points.append(p)
    return run_id, points


#: Journal entry kinds of the write-behind (server._ingest) and the parsers that read them back at replay.
DECODERS = {b"m": log_metric_points, b"b": log_batch_points}


def _fast_log_metric(request: Request, body: bytes, st: Any, pr: Any, ws: Any) -> Response | None:
    parsed = log_metric_points(body)
    return None if parsed is None else _store_points(st, pr, ws, b"m", body, *parsed)


def _fast_log_batch(request: Request, body: bytes, st: Any, pr: Any, ws: Any) -> Response | None:
    parsed = log_batch_points(body)
    return None if parsed is None else _store_points(st, pr, ws, b"b", body, *parsed)


def page_token_ok(token: str | None) -> bool:
    """Whether a metric-history page token is one `metric_history` could have given (or none)."""
    return not token or (token.isdigit() and len(token) <= 18)


def history(st: Any, ws: Any, run_id: str, key: str, max_results: int | None, token: str | None) -> Response:
    """A validated GetMetricHistory request's answer; an unknown run has an empty history, as in MLflow."""
    if not page_token_ok(token):
        return error("INVALID_PARAMETER_VALUE", "Invalid page token, could not base64-decode")
    owner = st.run_owner(run_id)
    if owner is None or owner[0] != ws.id:  # also a run of another workspace: the same answer, nothing leaks
        return ok('{"metrics":[]}')
    return ok(history_answer(st.store, ws.id, run_id, key, max_results, token))


def _fast_history(request: Request, body: bytes, st: Any, pr: Any, ws: Any) -> Response | None:
    q = request.query_params
    run_id, key = q.get("run_id") or q.get("run_uuid"), q.get("metric_key")
    max_results, token = q.get("max_results"), q.get("page_token")
    if not run_id or not key or len(run_id) > 256 or (max_results is not None and not (
            max_results.isdigit() and 0 < int(max_results) < 1 << 31)) or not page_token_ok(token):
        return None  # the validated path answers, with MLflow's error for whatever is wrong
    return history(st, ws, run_id, key, int(max_results) if max_results else None, token or None)


_FAST: dict[str, Callable[[Request, bytes, Any, Any, Any], Response | None]] = {
    "/runs/log-metric": _fast_log_metric, "/runs/log-batch": _fast_log_batch, "/metrics/get-history": _fast_history}


# MLflow's server checks the run id's form on these (400), and looks others up as given (404 when unknown).
_RUN_ID_CHECKED = frozenset({"/runs/log-batch", "/runs/log-inputs"})
_RUN_ID = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")


def _request_data(request: Request, body: bytes) -> dict[str, Any]:
    """The request message as a dict: the query string of a GET, else the JSON body (ValueError if malformed)."""
    if request.method == "GET":
        q = request.query_params
        return {k: (q.getlist(k) if len(q.getlist(k)) > 1 or k in _LIST_QUERY else q[k]) for k in q}
    if not body.strip():
        return {}
    try:
        data = parse_json(body)
    except ValueError as exc:
        raise ValueError(f"Malformed JSON request body: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("The request body must be a JSON object.")
    return data


_LIST_QUERY = frozenset({"order_by", "experiment_ids"})
_PARAM_ROUTES = [(re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$"), path)
                 for path in ACCESS if "{" in path]


def _route_of(rest: str) -> tuple[str, dict[str, str]] | None:
    """The ACCESS path of a request path after .../mlflow, with its path parameters."""
    if rest in ACCESS:
        return rest, {}
    for pattern, path in _PARAM_ROUTES:
        m = pattern.match(rest)
        if m:
            return path, m.groupdict()
    return None


async def _endpoint(request: Request) -> Response:
    # One route for the whole API (a dict look-up), so a request does not try every route of the app.
    p = request.path_params
    found = _route_of("/" + p["rest"])
    if found is None:
        return error("ENDPOINT_NOT_FOUND", f"No MLflow endpoint {request.url.path}", 404)
    path, params = found
    if request.method not in ACCESS[path]:
        return error("ENDPOINT_NOT_FOUND", f"{request.method} is not allowed on {path}", 405)
    p.update(params)
    try:
        st, pr, ws = resolve_workspace(request, p["sub"], p["rg"], p["ws"], READ)
        body = await request.body()
        fast = _FAST.get(path)
        if fast is not None:
            answer = fast(request, body, st, pr, ws)
            if answer is not None:
                return answer
            if st.ingest is not None:
                st.ingest.drain()  # the full path stores in order after what the write-behind holds
        # Everything the hot paths did not take is checked against the request's model (the one the
        # OpenAPI document shows), with MLflow's codes and wording, before any handler runs.
        try:
            msg = mlflow_models.validate(path, request.method, _request_data(request, body))
        except (ValueError, ValidationError) as exc:
            text = mlflow_models.mlflow_message(exc) if isinstance(exc, ValidationError) else str(exc)
            return error("INVALID_PARAMETER_VALUE", text)
        if path in _RUN_ID_CHECKED:
            run_id = getattr(msg, "run_id", None) or getattr(msg, "run_uuid", None) or ""
            if not _RUN_ID.match(run_id):
                return error("INVALID_PARAMETER_VALUE", f"Invalid value {json.dumps(run_id)} for parameter 'run_id' "
                                                        "supplied.")
        if isinstance(msg, mlflow_models.GetMetricHistory):
            return history(st, ws, msg.run_id or msg.run_uuid or "", msg.metric_key, msg.max_results, msg.page_token)
        native = _mlflow_tracking.HANDLERS.get(path)
        if native is not None:
            answer = native(st, pr, ws, msg, p)
            if answer is not None:
                return answer
        from azuremlcore.server import _mlflow_handlers  # MLflow loads here, on the first such request

        return _mlflow_handlers.dispatch(path, request, body, st, pr, ws)
    except AuthError as exc:
        return error(exc.error_code, str(exc), exc.status)
    except StoreError as exc:
        return error(exc.error_code, str(exc), exc.http_status)


def _artifact_location(st: Any, ws: Any, path: str) -> tuple[str, str]:
    parts = clean_name(path).split("/")
    if len(parts) < 2 or parts[0] not in ("runs", "mlflow-models", "experiments"):
        raise NotFoundError(f"No artifact location {path!r}: use runs/<run id>/... or mlflow-models/<model id>/...")
    return f"{ws.id}/{parts[0]}/{parts[1]}", "/".join(parts[2:])


async def _artifacts(request: Request) -> Response:
    p = request.path_params
    try:
        st, pr, ws = resolve_workspace(request, p["sub"], p["rg"], p["ws"], READ)
        path = p.get("path", "")
        if request.method == "GET" and (not path or "path" in request.query_params):
            return _list_artifacts(st, ws, (path.rstrip("/") + "/" if path else "") + request.query_params.get("path", ""))
        container, name = _artifact_location(st, ws, path)
        if request.method == "GET":
            target = st.artifacts.local_path(container, name)
            if not target.is_file():
                return error("RESOURCE_DOES_NOT_EXIST", f"Artifact {path!r} does not exist")
            return FileResponse(target, media_type="application/octet-stream")
        kind, owner = container.split("/")[1:3]
        if kind == "runs":
            st.check_run_write(pr, ws, owner)
        elif pr.kind == "run":
            # The files of a logged model (MLflow 3 log_model in a job) belong to the model's source run.
            source = logged_model_source_run(st, ws, owner) if kind == "mlflow-models" else None
            if source is None:
                raise AuthError(403, "A run token may write only its own run's artifacts.")
            st.check_run_write(pr, ws, source)
        else:
            st.auth.require(pr, arm_id(ws.subscription_id, ws.resource_group, ws.name), ws.id, WRITE)
        if request.method == "PUT":
            from azuremlcore.server.routes_files import _stream_to

            await _stream_to(request, st.artifacts.local_path(container, name), append=False)
            return ok({})
        if request.method == "DELETE":
            st.artifacts.delete(container, name or None)
            return ok({})
        return error("ENDPOINT_NOT_FOUND", f"{request.method} is not allowed on artifacts", 405)
    except AuthError as exc:
        return error(exc.error_code, str(exc), exc.status)
    except StoreError as exc:
        return error(exc.error_code, str(exc), exc.http_status)


def _list_artifacts(st: Any, ws: Any, path: str) -> Response:
    path = path.strip("/")
    if not path:
        return ok({"files": []})
    container, prefix = _artifact_location(st, ws, path)
    base = st.artifacts.local_path(container, prefix) if prefix else st.artifacts.root / container
    files = []
    if base.is_dir():
        for child in sorted(base.iterdir()):
            if child.name.startswith(".upload-"):
                continue
            # Base names, as MLflow's server answers: the client joins them to the path it asked for.
            entry: dict[str, Any] = {"path": child.name, "is_dir": child.is_dir()}
            if child.is_file():
                entry["file_size"] = child.stat().st_size
            files.append(entry)
    return ok({"files": files})


async def _server_info(request: Request) -> Response:
    return ok({"store_type": "SqlStore", "workspaces_enabled": False})


async def _version(request: Request) -> Response:
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("mlflow")
    except PackageNotFoundError:  # only mlflow-skinny installed
        found = version("mlflow-skinny")
    return Response(found, media_type="text/plain")


class Front:
    """ASGI app in front of the FastAPI app: MLflow REST calls go straight to their route.

    Profiled under bench_server, FastAPI's own layers (error and exception middleware, exit stack, body
    limit, router) were a tenth of a log-metric call; MLflow's REST API needs none of them (it answers
    its own errors), so those calls skip them. Everything else goes to the FastAPI app unchanged.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.routes = [Route(WS_PATH + prefix + "/{rest:path}", _endpoint, methods=["GET", "POST", "PATCH", "DELETE"])
                       for prefix in _API_PREFIXES]

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "/2.0/mlflow/" in scope["path"]:
            for route in self.routes:
                match, child = route.matches(scope)
                # Only the tracking API's paths: the model registry's (routes_registry) are the app's.
                if match is Match.FULL and _route_of("/" + child["path_params"]["rest"]) is not None:
                    scope.update(child)
                    scope["app"] = self.app
                    try:
                        await route.handle(scope, receive, send)
                    except Exception:  # noqa: BLE001 - answered in the server's error shape, as the app would
                        _log.exception("Internal error on %s %s", scope["method"], scope["path"])
                        await error("INTERNAL_ERROR", "Internal server error; see the server log.")(scope, receive,
                                                                                                    send)
                    return
        await self.app(scope, receive, send)


_API_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
_log = logging.getLogger("azuremlcore.server")


def install(app: Any) -> None:
    """Add the MLflow routes (REST API, /ajax-api twins, proxied artifacts) to the app (see also `Front`)."""
    routes = []
    for prefix in _API_PREFIXES:
        routes.append(Route(WS_PATH + prefix + "/{rest:path}", _endpoint, methods=["GET", "POST", "PATCH", "DELETE"]))
    for prefix in ("/api/2.0/mlflow-artifacts/artifacts", "/ajax-api/2.0/mlflow-artifacts/artifacts"):
        routes.append(Route(WS_PATH + prefix, _artifacts, methods=["GET"]))
        routes.append(Route(WS_PATH + prefix + "/{path:path}", _artifacts, methods=["GET", "PUT", "DELETE"]))
    for prefix in ("/api/3.0/mlflow/server-info", "/ajax-api/3.0/mlflow/server-info"):
        routes.append(Route(WS_PATH + prefix, _server_info, methods=["GET"]))
    routes.append(Route(WS_PATH + "/version", _version, methods=["GET"]))
    # Starlette routes bypass FastAPI's body models; first in the list, the hot MLflow calls match at once.
    app.router.routes[0:0] = routes
