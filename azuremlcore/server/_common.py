"""Helpers shared by the route modules: state access, JSON answers, workspace resolution."""
from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from azuremlcore._config import arm_id
from azuremlcore._store.errors import NotFoundError
from azuremlcore.server.security.authz import READ, Principal

if TYPE_CHECKING:
    from azuremlcore._store.records import WorkspaceRecord
    from azuremlcore.server.state import ServerState

WS_PATH = ("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/"
           "workspaces/{ws}")
T = TypeVar("T")


def state_of(request: Request) -> "ServerState":
    """The server's shared state."""
    return request.app.state.server


def principal_of(request: Request) -> Principal:
    """The authenticated caller (set by the guard middleware)."""
    return request.scope["state"]["principal"]


async def call(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a store call: inline by default (one short SQL transaction), or in a worker thread if configured."""
    if request.app.state.threadpool:
        from anyio import to_thread

        return await to_thread.run_sync(lambda: fn(*args, **kwargs))
    return fn(*args, **kwargs)


def to_jsonable(obj: Any) -> Any:
    """Records (dataclasses) as plain dicts."""
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    if isinstance(obj, list):
        return [to_jsonable(o) for o in obj]
    return obj


def json_response(obj: Any, status: int = 200) -> Response:
    """A JSON answer; NaN and infinities are written as JavaScript literals (the SDK's client reads them)."""
    return Response(json.dumps(to_jsonable(obj), separators=(",", ":")), status_code=status,
                    media_type="application/json")


def scope_above(sub: str, rg: str) -> str:
    """The role scope a new workspace in this resource group needs (its resource group's ARM id)."""
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def validation_message(errors: Any, drop: tuple[str, ...] = ()) -> str:
    """One line naming each invalid field (at most five) of pydantic's or FastAPI's validation errors."""
    parts = []
    for e in list(errors)[:5]:
        loc = [str(p) for p in e.get("loc", ()) if str(p) not in drop]
        parts.append(f"{'.'.join(loc) or 'body'}: {e.get('msg')}")
    return "Invalid request: " + "; ".join(parts) + "."


def resolve_workspace(request: Request, sub: str, rg: str, ws: str, needed: int = READ
                      ) -> tuple["ServerState", Principal, "WorkspaceRecord"]:
    """The workspace of the path, after checking the caller holds the needed role on it."""
    st, pr = state_of(request), principal_of(request)
    aid = arm_id(sub, rg, ws)
    rec = st.workspace(sub, rg, ws)
    if rec is None:
        # Same answer whether or not it exists for callers who could not read it anyway.
        st.auth.require(pr, aid, None, READ)
        raise NotFoundError(f"Workspace '{ws}' does not exist in resource group '{rg}' of subscription '{sub}'.")
    st.auth.require(pr, aid, rec.id, needed)
    return st, pr, rec


def add_routes(app: Any, router: Any) -> None:
    """Put a FastAPI router's routes into the app as they are (its prefix and tags are already theirs).

    `app.include_router` builds every route's dependant and models a second time (newer FastAPI: on
    the first request, which then waits; and each request re-checks the included router for changes):
    a third of the API's build time and memory, for routes whose dependencies and options are the same.
    """
    app.router.routes.extend(router.routes)
