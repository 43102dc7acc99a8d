"""Workspace files (run outputs and logs, snapshots, ...), streamed to and from the artifact root.

A container is relative to the workspace ('runs/<run id>', 'snapshots', ...); a name a relative
path inside it. Uploads are written chunk by chunk to a temporary file and renamed into place,
so a reader never sees half a file and no request holds a whole file in memory.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from azuremlcore._config import arm_id
from azuremlcore._store.artifacts import clean_name
from azuremlcore._store.errors import NotFoundError
from azuremlcore.server._common import WS_PATH as P, json_response, resolve_workspace
from azuremlcore.server._route_table import RouteTable
from azuremlcore.server.security.authz import READ, WRITE, AuthError, Principal

router = RouteTable(tags=["files"])


def _container(ws_id: str, container: str) -> str:
    return f"{ws_id}/{clean_name(container)}"


def _check_write(request: Request, sub: str, rg: str, ws: str, container: str):  # type: ignore[no-untyped-def]
    st, pr, rec = resolve_workspace(request, sub, rg, ws, READ)
    parts = clean_name(container).split("/")
    if len(parts) == 2 and parts[0] == "runs":
        st.check_run_write(pr, rec, parts[1])
    elif pr.kind == "run":
        raise AuthError(403, "A run token may write only its own run's files.")
    else:
        st.auth.require(pr, arm_id(sub, rg, ws), rec.id, WRITE)
    return st, pr, rec


async def _stream_to(request: Request, dest: Path, append: bool) -> int:
    dest.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    if append:
        with open(dest, "ab") as out:
            async for chunk in request.stream():
                out.write(chunk)
                size += len(chunk)
        return size
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
                size += len(chunk)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return size


@router.put(P + "/files", openapi_extra={"requestBody": {"content": {"application/octet-stream": {}}}})
async def put_file(request: Request, sub: str, rg: str, ws: str, container: str, name: str) -> Response:
    """Store (overwrite) a file from the raw request body, streamed to disk."""
    st, _, rec = _check_write(request, sub, rg, ws, container)
    size = await _stream_to(request, st.artifacts.local_path(_container(rec.id, container), name), append=False)
    return json_response({"size": size})


@router.post(P + "/files/append", openapi_extra={"requestBody": {"content": {"application/octet-stream": {}}}})
async def append_file(request: Request, sub: str, rg: str, ws: str, container: str, name: str) -> Response:
    """Append the raw request body to a file (log files of a running run)."""
    st, _, rec = _check_write(request, sub, rg, ws, container)
    size = await _stream_to(request, st.artifacts.local_path(_container(rec.id, container), name), append=True)
    return json_response({"size": size})


@router.get(P + "/files", response_class=FileResponse)
async def get_file(request: Request, sub: str, rg: str, ws: str, container: str, name: str) -> Response:
    """A file's bytes, streamed."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, READ)
    path = st.artifacts.local_path(_container(rec.id, container), name)
    if not path.is_file():
        raise NotFoundError(f"File {name!r} does not exist.")
    return FileResponse(path, media_type="application/octet-stream")


@router.head(P + "/files")
async def file_exists(request: Request, sub: str, rg: str, ws: str, container: str, name: str) -> Response:
    """200 when the file exists, 404 otherwise."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, READ)
    path = st.artifacts.local_path(_container(rec.id, container), name)
    return Response(status_code=200 if path.is_file() else 404,
                    headers={"content-length": str(path.stat().st_size) if path.is_file() else "0"})


@router.get(P + "/files/tail")
async def read_from(request: Request, sub: str, rg: str, ws: str, container: str, name: str,
                    offset: int = 0) -> Response:
    """The bytes of a file from offset on (empty when missing): for tailing logs."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, READ)
    data = st.artifacts.read_from(_container(rec.id, container), name, max(0, offset))
    return Response(data, media_type="application/octet-stream")


@router.get(P + "/files/list", response_model=list[str])
async def list_files(request: Request, sub: str, rg: str, ws: str, container: str,
                     prefix: Optional[str] = None) -> Response:
    """Names of the files in a container (under prefix when given), sorted."""
    st, _, rec = resolve_workspace(request, sub, rg, ws, READ)
    return json_response(st.artifacts.list(_container(rec.id, container), prefix))


@router.delete(P + "/files", status_code=204)
async def delete_file(request: Request, sub: str, rg: str, ws: str, container: str,
                      name: Optional[str] = None) -> Response:
    """Delete one file, or the whole container without name."""
    st, _, rec = _check_write(request, sub, rg, ws, container)
    st.artifacts.delete(_container(rec.id, container), name)
    return Response(status_code=204)


__all__ = ["router", "Principal"]
