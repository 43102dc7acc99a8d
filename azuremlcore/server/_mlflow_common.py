"""What MLflow's two paths on the server share: the access table, the error and answer shapes, metric history.

`routes_mlflow` (the hot paths, no MLflow import) and `_mlflow_handlers` (the full path, with
MLflow's messages) both build on this module, so neither imports the other at module level.
"""
from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from starlette.responses import Response

from azuremlcore.server._gc_pause import collection_paused
from azuremlcore.server._json import dumpb, dumps

_HTTP = {"RESOURCE_DOES_NOT_EXIST": 404, "RESOURCE_ALREADY_EXISTS": 400, "INVALID_PARAMETER_VALUE": 400,
         "PERMISSION_DENIED": 403, "UNAUTHENTICATED": 401, "INVALID_STATE": 400, "BAD_REQUEST": 400,
         "REQUEST_LIMIT_EXCEEDED": 429, "NOT_IMPLEMENTED": 501, "ENDPOINT_NOT_FOUND": 404}
#: Page size of metric history when the client names none (MLflow's GET_METRIC_HISTORY_MAX_RESULTS).
HISTORY_PAGE = 25_000
R, W, RUN = "read", "write", "run"
LOGGED_MODEL_KIND = "mlflow_logged_model"  # azuremlmlflow's asset kind of MLflow 3 logged models
# path (after /api/2.0/mlflow) -> {method: access}: "read", "write" (the workspace) or "run" (write on the
# message's run id). The messages and handlers are in _mlflow_handlers (checked against this at import).
ACCESS: dict[str, dict[str, str]] = {
    "/experiments/create": {"POST": W}, "/experiments/search": {"POST": R, "GET": R},
    "/experiments/get": {"GET": R}, "/experiments/get-by-name": {"GET": R}, "/experiments/delete": {"POST": W},
    "/experiments/restore": {"POST": W}, "/experiments/update": {"POST": W},
    "/experiments/set-experiment-tag": {"POST": W}, "/experiments/delete-experiment-tag": {"POST": W},
    "/runs/create": {"POST": W}, "/runs/update": {"POST": RUN}, "/runs/delete": {"POST": RUN},
    "/runs/restore": {"POST": RUN}, "/runs/get": {"GET": R}, "/runs/search": {"POST": R},
    "/runs/log-metric": {"POST": RUN}, "/runs/log-parameter": {"POST": RUN}, "/runs/set-tag": {"POST": RUN},
    "/runs/delete-tag": {"POST": RUN}, "/runs/log-batch": {"POST": RUN}, "/runs/log-inputs": {"POST": RUN},
    "/runs/outputs": {"POST": RUN}, "/runs/log-model": {"POST": RUN}, "/metrics/get-history": {"GET": R},
    "/logged-models": {"POST": W}, "/logged-models/search": {"POST": R},
    "/logged-models/{model_id}": {"GET": R, "PATCH": W, "DELETE": W},
    "/logged-models/{model_id}/tags": {"PATCH": W}, "/logged-models/{model_id}/tags/{tag_key}": {"DELETE": W},
    "/logged-models/{model_id}/params": {"POST": W},
}


_NAME = re.compile(r"^[/\w.\- :]*$")
#: Names already found plain (at most 10,000 remembered): the common case costs one set look-up.
GOOD_NAMES: set[str] = set()


def plain_name(name: Any) -> bool:
    """Whether a metric, param or tag name keeps MLflow's rules (characters, no path tricks, 250 characters)."""
    if name in GOOD_NAMES:
        return True
    if not isinstance(name, str) or not name or len(name) > 250 or not _NAME.match(name):
        return False
    norm = posixpath.normpath(name)
    if norm != name or norm == "." or norm.startswith("..") or norm.startswith("/"):
        return False
    if len(GOOD_NAMES) < 10_000:
        GOOD_NAMES.add(name)
    return True


def error(code: str, message: str, status: int | None = None) -> Response:
    """An MLflow error answer."""
    body = json.dumps({"error_code": code, "message": message})
    return Response(body, status_code=status or _HTTP.get(code, 500), media_type="application/json")


def ok(payload: Any) -> Response:
    """A JSON answer (text or UTF-8 bytes are sent as they are)."""
    text = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return Response(text, media_type="application/json")


def rewrite(out: Any, st: Any, ws_id: str) -> str:
    """JSON text with the bridge's file:// artifact URIs turned into mlflow-artifacts URIs for the server's clients."""
    text = out if isinstance(out, str) else json.dumps(out)
    prefix = (st.artifacts.root / ws_id).as_uri()
    return text.replace(prefix + "/", "mlflow-artifacts:/").replace(f'"{prefix}"', '"mlflow-artifacts:/experiments"')


def metric_history(store: Any, run_id: str, key: str, max_results: int | None, page_token: str | None) -> str:
    """GetMetricHistory's JSON answer straight from SQL: float points of one key in logging order, paged.

    page_token is one this function gave (a row id in digits; check it with `page_token_ok`).
    """
    return metric_history_page(store, run_id, key, max_results, page_token)[0].decode()


def metric_history_page(store: Any, run_id: str, key: str, max_results: int | None, page_token: str | None
                        ) -> tuple[bytes, str | None]:
    """`metric_history`'s answer as UTF-8 bytes (what is sent: no copy to text and back) and the next page's
    token it holds (None on the last page)."""
    after, limit = int(page_token) if page_token else 0, max_results or HISTORY_PAGE
    written = store.metric_history_text(run_id, key, dumps(key), after, limit)
    if written is not None:  # the database wrote the points' JSON (PostgreSQL)
        text, last = written
        token = None if last is None else str(last)
        return ('{"metrics":[' + text + "]" + ("" if token is None else f',"next_page_token":"{token}"')
                + "}").encode(), token
    with collection_paused():  # ~100k short-lived objects a page, none in a cycle (see _gc_pause)
        rows, last = store.metric_history_page(run_id, key, after, limit)
        # NaN and the infinities come spelled as MLflow writes them; orjson writes the other values as numbers.
        out: dict[str, Any] = {"metrics": [{"key": key, "value": value, "timestamp": ts, "step": step}
                                           for value, ts, step in rows]}
        token = None if last is None else str(last)
        if token is not None:
            out["next_page_token"] = token
        body = dumpb(out)
        del out, rows  # freed before the collector is back on: its first collection finds them gone
    return body, token


def logged_model_source_run(st: Any, ws: Any, model_id: str) -> str | None:
    """The source run of a logged model (MLflow 3) of the workspace; None when unknown or run-less."""
    asset = st.store.get_asset(ws.id, LOGGED_MODEL_KIND, model_id) if model_id else None
    return (asset.spec.get("source_run_id") or None) if asset is not None else None
