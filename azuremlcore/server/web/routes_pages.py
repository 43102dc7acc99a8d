"""The web view's pages: workspaces, experiments, the runs table, a run, compare, models, environments;
and `/docs` (the API's swagger-ui, served from the package)."""
from __future__ import annotations

import functools
import json
import math
from typing import Any, Awaitable, Callable

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from azuremlcore._config import arm_id
from azuremlcore._store.errors import StoreError
from azuremlcore._tracking.files_mixin import LOG_PREFIXES
from azuremlcore.server._common import call, principal_of, state_of
from azuremlcore.server.security.authz import READ, AuthError
from azuremlcore.server.web import access, runs_table
from azuremlcore.server.web.render import page

router = APIRouter(include_in_schema=False)
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
_TABLE_KINDS = ("row", "table")
_MAX_FILES = 2000
_MAX_COMPARE = 500
_MAX_LIST_ROWS = 1000
_MAX_CHILDREN = 500


def html_errors(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    """Answer a page's errors (missing things, missing roles) with an HTML page saying what to do."""
    @functools.wraps(handler)
    async def wrapped(request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return await handler(request, *args, **kwargs)
        except (StoreError, AuthError) as exc:
            status = getattr(exc, "http_status", None) or getattr(exc, "status", 400)
            return page(request, "error.html", status=status, message=str(exc), status_code=status)
    return wrapped


@router.get("/")
async def home(request: Request) -> Response:
    """The web view starts at the workspaces page."""
    return RedirectResponse("/ui/workspaces", status_code=303)


@router.get("/favicon.ico")
async def favicon(request: Request) -> Response:
    """The web view's icon (browsers ask for it on their own)."""
    from starlette.responses import FileResponse

    from azuremlcore.server.web import STATIC

    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


@router.get("/docs")
async def api_docs(request: Request) -> Response:
    """The API reference (swagger-ui from the package's static files: works offline)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    from azuremlcore.server.web.render import asset

    return get_swagger_ui_html(openapi_url="/openapi.json", title="azuremlcore workspace server - API",
                               swagger_js_url=asset("vendor/swagger-ui/swagger-ui-bundle.js"),
                               swagger_css_url=asset("vendor/swagger-ui/swagger-ui.css"),
                               swagger_favicon_url=asset("vendor/swagger-ui/favicon-32x32.png"))


@router.get("/ui/workspaces", response_class=HTMLResponse)
@html_errors
async def workspaces(request: Request) -> Response:
    """Every workspace the caller can read."""
    st, pr = state_of(request), principal_of(request)
    found = await call(request, st.store.find_workspace, None, None, None)
    visible = [w for w in found if st.auth.rank(pr, arm_id(w.subscription_id, w.resource_group, w.name), w.id) >= READ]
    visible.sort(key=lambda w: (w.name.lower(), w.resource_group.lower()))
    return page(request, "workspaces.html", workspaces=visible)


@router.get("/ui/workspaces/{ws_id}", response_class=HTMLResponse)
@html_errors
async def workspace(request: Request, ws_id: str) -> Response:
    """A workspace: its experiments, and links to its models and environments."""
    st, _, rec = access.workspace(request, ws_id)
    experiments = await call(request, st.store.list_experiments, rec.id, "All", None)
    experiments.sort(key=lambda e: e.last_update_time, reverse=True)
    return page(request, "workspace.html", ws=rec, experiments=experiments)


@router.get("/ui/workspaces/{ws_id}/experiments/{experiment_id}", response_class=HTMLResponse)
@html_errors
async def experiment(request: Request, ws_id: str, experiment_id: str) -> Response:
    """An experiment's runs table (top-level runs), sorted, filtered and paginated on the server."""
    st, _, rec = access.workspace(request, ws_id)
    exp = await call(request, st.store.get_experiment, rec.id, experiment_id=experiment_id)
    runs = await call(request, st.store.search_runs, rec.id, experiment_ids=[exp.id], include_children=False)
    query = runs_table.TableQuery.parse(request.query_params)
    table = await call(request, runs_table.build, st.store, runs, query)
    return page(request, "experiment.html", ws=rec, exp=exp, table=table, query=query)


def _artifact_of_image(value_json: str | None, run_id: str) -> str | None:
    # log_image stores "aml://artifactId/ExperimentRun/dcid.<run id>/<file name>".
    try:
        address = json.loads(value_json or "null")
    except ValueError:
        return None
    marker = f"dcid.{run_id}/"
    return address.split(marker, 1)[1] if isinstance(address, str) and marker in address else None


def _tables(points: list[Any]) -> dict[str, dict[str, list[Any]]]:
    tables: dict[str, dict[str, list[Any]]] = {}
    for p in points:
        row = json.loads(p.value_json or "{}")
        cols = tables.setdefault(p.key, {})
        n = len(next(iter(cols.values()), []))
        for k in row:
            cols.setdefault(k, [None] * n)
        for k in cols:
            cols[k].append(row.get(k))
    return tables


@router.get("/ui/workspaces/{ws_id}/runs/{run_id}", response_class=HTMLResponse)
@html_errors
async def run(request: Request, ws_id: str, run_id: str) -> Response:
    """A run: overview, params, tags, properties, metric charts, tables, images, child runs, logs and files."""
    from azuremlcore._store.metric_views import CHARTED_KINDS, metric_keys

    st, _, rec, r = access.run(request, ws_id, run_id)
    exp = await call(request, st.store.get_experiment, rec.id, experiment_id=r.experiment_id)
    # A sweep may have thousands of children: the newest are listed, the count says how many more there are.
    children = await call(request, st.store.search_runs, rec.id, parent_id=r.id, limit=_MAX_CHILDREN + 1)
    keys = await call(request, metric_keys, st.store, r.id)
    charts = [k for k in keys if k.kind in CHARTED_KINDS and k.last_step > 0]
    singles = [k for k in keys if k.kind in CHARTED_KINDS and k.last_step == 0]
    images: list[str] = []
    tables: dict[str, dict[str, list[Any]]] = {}
    documents: dict[str, Any] = {}
    for k in keys:
        if k.kind == "list" and k.last_step < _MAX_LIST_ROWS:
            # A logged list is also shown as it was logged: a table of its values (a long one only as a chart).
            points = await call(request, st.store.get_metrics, [r.id], k.key)
            tables[k.key] = {"index": [p.step for p in points],
                             k.key: [json.loads(p.value_json) if p.value_json else p.value for p in points]}
        if k.kind in CHARTED_KINDS:
            continue
        points = await call(request, st.store.get_metrics, [r.id], k.key)
        if k.kind == "image":
            images += [a for a in (_artifact_of_image(p.value_json, r.id) for p in points) if a]
        elif k.kind in _TABLE_KINDS:
            tables.update(_tables(points))
        else:
            documents[k.key] = json.loads(points[-1].value_json or "null") if points else None
    container = f"{rec.id}/runs/{r.id}"
    names = st.artifacts.list(container)
    files = []
    for name in names[:_MAX_FILES]:
        path = st.artifacts.local_path(container, name)
        files.append((name, path.stat().st_size if path.is_file() else 0))
    images += [n for n in names if n.lower().endswith(_IMAGE_SUFFIXES) and n not in images]
    logs = [(n, s) for n, s in files if n.startswith(LOG_PREFIXES)]
    parent = None
    if r.parent_id:
        parent = await call(request, st.store.get_run, r.parent_id)
    return page(request, "run.html", ws=rec, exp=exp, run=r, parent=parent, children=children[:_MAX_CHILDREN],
                more_children=len(children) > _MAX_CHILDREN,
                charts=charts, singles=singles, images=images[:200], tables=tables, documents=documents,
                files=files, more_files=max(0, len(names) - _MAX_FILES), logs=logs,
                duration_s=runs_table.duration_s(r), api=access.api_path(rec), can_write=access.can_write(request, rec))


def _scatter(points: list[tuple[str, Any, float]], width: int = 640, height: int = 360) -> dict[str, Any]:
    """Pixel positions of (run, param value, metric value) for an SVG scatter plot; text params as categories."""
    pad = 48
    numeric = all(_is_number(x) for _, x, _ in points)
    cats: list[str] = [] if numeric else sorted({str(x) for _, x, _ in points})
    xs = [float(x) if numeric else cats.index(str(x)) for _, x, _ in points]
    ys = [y for _, _, y in points]
    if not points:
        return {"dots": [], "width": width, "height": height, "numeric": numeric, "cats": []}
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    # A margin of 5% keeps the extreme dots off the axes and their labels.
    mx, my = (x1 - x0) * 0.05 or 0.5, (y1 - y0) * 0.05 or abs(y0) * 0.05 or 0.5
    x0, x1, y0, y1 = x0 - mx, x1 + mx, y0 - my, y1 + my
    sx = (width - 2 * pad) / ((x1 - x0) or 1)
    sy = (height - 2 * pad) / ((y1 - y0) or 1)
    dots = [{"run": run, "x": pad + (x - x0) * sx, "y": height - pad - (y - y0) * sy, "label": f"{raw}, {y:.6g}"}
            for (run, raw, y), x in zip(points, xs)]
    return {"dots": dots, "width": width, "height": height, "numeric": numeric, "pad": pad,
            "x_range": (x0, x1), "y_range": (y0, y1), "cats": [(c, pad + (i - x0) * sx) for i, c in enumerate(cats)]}


def _parallel(records: list[Any], last: dict[tuple[str, str], float], metric: str,
              width: int = 960, height: int = 340) -> dict[str, Any]:
    """A parallel-coordinates plot as SVG coordinates: one axis per param that varies (up to 7) and the metric
    last; one line per run, coloured from low (blue) to high (red) metric value."""
    pad_x, pad_y = 60, 36
    varying = [k for k in sorted({k for r in records for k in r.params})
               if len({r.params.get(k) for r in records}) > 1][:7]
    runs = [r for r in records if (r.id, metric) in last and _is_number(last[(r.id, metric)])
            and all(k in r.params for k in varying)]
    if not runs or not metric:
        return {"lines": [], "axes": [], "width": width, "height": height}
    columns = [(k, [r.params[k] for r in runs]) for k in varying] + [(metric, [last[(r.id, metric)] for r in runs])]
    step = (width - 2 * pad_x) / max(1, len(columns) - 1)
    axes, ys = [], []
    for i, (name, values) in enumerate(columns):
        x = pad_x + i * step
        if all(_is_number(v) for v in values):
            nums = [float(v) for v in values]
            lo, hi = min(nums), max(nums)
            ys.append([height - pad_y - (v - lo) / ((hi - lo) or 1) * (height - 2 * pad_y) for v in nums])
            ticks = [(f"{hi:.4g}", pad_y), (f"{lo:.4g}", height - pad_y)]
        else:
            cats = sorted({str(v) for v in values})
            pos = {c: height - pad_y - j / max(1, len(cats) - 1) * (height - 2 * pad_y) for j, c in enumerate(cats)}
            ys.append([pos[str(v)] for v in values])
            ticks = [(c, y) for c, y in pos.items()][:12]
        axes.append({"name": name, "x": x, "ticks": ticks})
    metric_values = [float(v) for v in columns[-1][1]]
    lo, hi = min(metric_values), max(metric_values)
    lines = []
    for j, r in enumerate(runs):
        hue = 240 - 240 * ((metric_values[j] - lo) / ((hi - lo) or 1))
        points = " ".join(f"{axes[i]['x']:.1f},{ys[i][j]:.1f}" for i in range(len(axes)))
        lines.append({"run": r.id, "points": points, "color": f"hsl({hue:.0f},70%,45%)",
                      "label": f"run {r.number}: {metric} {metric_values[j]:.6g}"})
    return {"lines": lines, "axes": axes, "width": width, "height": height, "pad": pad_y}


def _is_number(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


@router.get("/ui/workspaces/{ws_id}/compare", response_class=HTMLResponse)
@html_errors
async def compare(request: Request, ws_id: str, runs: list[str] = Query(default=[]), metric: str = "",
                  param: str = "") -> Response:
    """Selected runs side by side: one metric overlaid, and a scatter of a param against a metric's last value."""
    from azuremlcore._store.metric_views import CHARTED_KINDS, metric_keys_of

    ids = list(dict.fromkeys(i for chunk in runs for i in chunk.split(",") if i))[:_MAX_COMPARE]
    st, pr, rec, records = access.runs(request, ws_id, ids)
    summaries = await call(request, metric_keys_of, st.store, ids)
    last = {(run_id, k.key): k.last_value for run_id, keys in summaries.items() for k in keys
            if k.kind in CHARTED_KINDS and k.last_value is not None}
    metric_names = sorted({key for _, key in last})
    param_names = sorted({k for r in records for k in r.params})
    metric = metric if metric in metric_names else (metric_names[0] if metric_names else "")
    param = param if param in param_names else (param_names[0] if param_names else "")
    points = [(r.id, r.params[param], last[(r.id, metric)]) for r in records
              if param in r.params and (r.id, metric) in last and _is_number(last[(r.id, metric)])]
    return page(request, "compare.html", ws=rec, runs=records, metric=metric, param=param, metric_names=metric_names,
                param_names=param_names, last=last, scatter=_scatter(points),
                parallel=_parallel(records, last, metric))


@router.get("/ui/workspaces/{ws_id}/models", response_class=HTMLResponse)
@html_errors
async def models(request: Request, ws_id: str) -> Response:
    """The workspace's registered models, every version."""
    return await _assets(request, ws_id, "model", "Models")


@router.get("/ui/workspaces/{ws_id}/environments", response_class=HTMLResponse)
@html_errors
async def environments(request: Request, ws_id: str) -> Response:
    """The workspace's environments, every version."""
    return await _assets(request, ws_id, "environment", "Environments")


async def _assets(request: Request, ws_id: str, kind: str, title: str) -> Response:
    st, _, rec = access.workspace(request, ws_id)
    assets = await call(request, st.store.list_assets, rec.id, kind, None)
    assets.sort(key=lambda a: (a.name.lower(), -a.version))
    return page(request, "assets.html", ws=rec, assets=assets, kind=kind, title=title)
