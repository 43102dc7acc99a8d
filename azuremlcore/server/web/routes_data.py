"""Data the pages' scripts fetch: downsampled metric series, a run's live state (polled with If-None-Match)
and run files for viewing or download."""
from __future__ import annotations

import hashlib
import json
import mimetypes
from typing import Optional

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from azuremlcore._store.errors import InvalidValueError, NotFoundError
from azuremlcore._tracking.files_mixin import LOG_PREFIXES
from azuremlcore.server._common import call
from azuremlcore.server.web import access, downsample
from azuremlcore.server.web.runs_table import duration_s

router = APIRouter(prefix="/ui/api", tags=["web view"])
# Shown in the page (never HTML or SVG, which could run script in the server's origin); the rest downloads.
_INLINE = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}
_MAX_SERIES = 500


def _series_cache(request: Request) -> downsample.SeriesCache:
    app_state = request.app.state
    if getattr(app_state, "series_cache", None) is None:
        app_state.series_cache = downsample.SeriesCache()
    return app_state.series_cache


def _etag_response(request: Request, body: dict) -> Response:
    raw = json.dumps(body, separators=(",", ":"), allow_nan=False, default=str).encode()
    tag = '"' + hashlib.sha1(raw).hexdigest()[:20] + '"'
    headers = {"etag": tag, "cache-control": "no-cache"}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(raw, media_type="application/json", headers=headers)


@router.get("/workspaces/{ws_id}/series")
async def series(request: Request, ws_id: str, key: str, runs: list[str] = Query(...),
                 axis: str = "step", width: Optional[int] = Query(None, ge=1, le=100_000)) -> Response:
    """A metric's history of one or more runs, reduced to the min and max per pixel of a chart `width` wide.

    Answers {"key", "axis", "series": [{"run", "x", "y"}]}; x is the step, or seconds on the time axis.
    """
    from anyio import to_thread

    from azuremlcore._store.metric_views import AXES, last_ids, metric_buckets

    if axis not in AXES:
        raise InvalidValueError(f"axis must be one of {', '.join(AXES)}, not {axis!r}.")
    ids = list(dict.fromkeys(i for chunk in runs for i in chunk.split(",") if i))
    if len(ids) > _MAX_SERIES:
        raise InvalidValueError(f"At most {_MAX_SERIES} runs per request, not {len(ids)}.")
    if len(ids) == 1:
        st, pr, rec = access.workspace(request, ws_id)
        st.check_run_read(pr, rec, ids[0])
    else:  # an overlay: every run checked with one query
        st, pr, rec, _ = access.runs(request, ws_id, ids)
    n = downsample.buckets_for_width(width, len(ids))
    cache = _series_cache(request)

    def reduce() -> dict[str, tuple[list[float], list[float]]]:
        # Histories may hold millions of points: reduced in a worker thread, never on the event loop.
        versions = last_ids(st.store, ids, key)
        out = {r: cache.get((r, key, axis, n, versions[r])) for r in ids}
        missing = [r for r, hit in out.items() if hit is None]
        for r, buckets in (metric_buckets(st.store, missing, key, axis, n) if missing else {}).items():
            out[r] = downsample.to_series(buckets, time_axis=axis == "timestamp")
            cache.put((r, key, axis, n, versions[r]), out[r])
        return out  # type: ignore[return-value]

    found = await to_thread.run_sync(reduce)
    out = [{"run": r, "x": found[r][0], "y": found[r][1]} for r in ids]
    return _etag_response(request, {"key": key, "axis": axis, "series": out})


@router.get("/workspaces/{ws_id}/runs/{run_id}/live")
async def live(request: Request, ws_id: str, run_id: str) -> Response:
    """What changes while a run runs: status, times, each metric key's last point id, each log file's size.

    Poll it with If-None-Match: 304 until something changed.
    """
    from azuremlcore._store.metric_views import metric_keys

    st, _, rec, r = access.run(request, ws_id, run_id)
    keys = await call(request, metric_keys, st.store, r.id)
    container = f"{rec.id}/runs/{r.id}"
    logs = {}
    for name in st.artifacts.list(container):
        if name.startswith(LOG_PREFIXES):
            path = st.artifacts.local_path(container, name)
            logs[name] = path.stat().st_size if path.is_file() else 0
    body = {"status": r.status, "start_time": r.start_time, "end_time": r.end_time,
            "duration_s": None if r.start_time is None else round(duration_s(r) or 0, 1), "tags": r.tags,
            "metrics": {k.key: [k.kind, k.last_id, k.last_step] for k in keys}, "logs": logs}
    return _etag_response(request, body)


@router.get("/workspaces/{ws_id}/runs/{run_id}/file")
async def run_file(request: Request, ws_id: str, run_id: str, name: str, download: bool = False) -> Response:
    """A run file: images shown in the page, everything else (and anything with download=1) as a download."""
    st, _, rec, r = access.run(request, ws_id, run_id)
    from azuremlcore._store.artifacts import clean_name

    path = st.artifacts.local_path(f"{rec.id}/runs/{r.id}", clean_name(name))
    if not path.is_file():
        raise NotFoundError(f"Run {r.id} has no file {name!r}.")
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if kind in _INLINE and not download:
        return FileResponse(path, media_type=kind, headers={"x-content-type-options": "nosniff"})
    return FileResponse(path, media_type="application/octet-stream", filename=path.name,
                        headers={"x-content-type-options": "nosniff"})

