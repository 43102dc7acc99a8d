"""Who may see what in the web view: the API's own role checks, reached by workspace id (the pages' URLs)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from azuremlcore._config import arm_id
from azuremlcore._store.errors import NotFoundError
from azuremlcore.server._common import WS_PATH, principal_of, resolve_workspace, state_of
from azuremlcore.server.security.authz import READ, WRITE, Principal

if TYPE_CHECKING:
    from azuremlcore._store.records import RunRecord, WorkspaceRecord
    from azuremlcore.server.state import ServerState


def workspace(request: Request, ws_id: str, needed: int = READ
              ) -> tuple["ServerState", Principal, "WorkspaceRecord"]:
    """The workspace with that id after the API's check that the caller holds the needed role on it.

    A workspace the caller cannot read answers as a missing one (its id reveals nothing)."""
    st, pr = state_of(request), principal_of(request)
    try:
        rec = st.store.get_workspace(ws_id)
    except NotFoundError:
        rec = None
    if rec is None or st.auth.rank(pr, arm_id(rec.subscription_id, rec.resource_group, rec.name), rec.id) < READ:
        raise NotFoundError(f"No workspace {ws_id} that you can read exists; the workspaces page lists yours.")
    return resolve_workspace(request, rec.subscription_id, rec.resource_group, rec.name, needed)


def run(request: Request, ws_id: str, run_id: str) -> tuple["ServerState", Principal, "WorkspaceRecord", "RunRecord"]:
    """A run of a workspace the caller can read (404 when it belongs to another workspace)."""
    st, pr, rec = workspace(request, ws_id)
    st.check_run_read(pr, rec, run_id)
    return st, pr, rec, st.store.get_run(run_id)


def runs(request: Request, ws_id: str, run_ids: list[str]
         ) -> tuple["ServerState", Principal, "WorkspaceRecord", list["RunRecord"]]:
    """Many runs of a workspace the caller can read, read in one query (404 when one is missing or belongs
    to another workspace); their owners are remembered, as the API's checks would, for the next request."""
    st, pr, rec = workspace(request, ws_id)
    found = st.store.get_runs(run_ids)
    if len(found) != len(run_ids) or any(r.workspace_id != rec.id for r in found):
        missing = sorted(set(run_ids) - {r.id for r in found if r.workspace_id == rec.id})
        raise NotFoundError(f"Run {missing[0]} does not exist in workspace '{rec.name}'.")
    for r in found:
        st.remember_run(r.id, r.workspace_id, r.parent_id)
    return st, pr, rec, found


def api_path(rec: "WorkspaceRecord") -> str:
    """The workspace's path in the API (what the pages' scripts call for files, cancel and tags)."""
    return WS_PATH.format(sub=rec.subscription_id, rg=rec.resource_group, ws=rec.name)


def can_write(request: Request, rec: "WorkspaceRecord") -> bool:
    """Whether the caller holds Contributor on the workspace (pages show the cancel and tag controls)."""
    st, pr = state_of(request), principal_of(request)
    return st.auth.rank(pr, arm_id(rec.subscription_id, rec.resource_group, rec.name), rec.id) >= WRITE
