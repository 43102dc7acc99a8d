"""Jobs: starting a submitted script run on the server's host, and cancelling it.

The client creates the run (status NotStarted or Queued, its snapshot uploaded), then calls
`POST <workspace>/runs/<id>/start`; the server runs it with its local runner (see `server.jobs`).
`POST <workspace>/runs/<id>/cancel` stops it. Both need the Contributor role.
"""
from __future__ import annotations

import asyncio
import socket

from starlette.requests import Request
from starlette.responses import Response

from azuremlcore._store.errors import InvalidValueError
from azuremlcore.server import models as m
from azuremlcore.server._common import WS_PATH as P, call, json_response, resolve_workspace
from azuremlcore.server._route_table import RouteTable
from azuremlcore.server.security.authz import WRITE

router = RouteTable(tags=["jobs"])
_SCRIPT_RUN_TYPE = "azureml.scriptrun"
_start_lock = asyncio.Lock()


def _endpoint(request: Request) -> str:
    # The URL scripts log back to: configurable (a proxy or another interface), else the one the client used.
    configured = request.app.state.server.config.extra.get("job_endpoint")
    return (configured or str(request.base_url)).rstrip("/")


def _record_if_runner_died(store, run_id: str) -> None:  # type: ignore[no-untyped-def]
    # A runner killed outright (out of memory, SIGKILL) cannot record its end; without this the run
    # would show Running forever and clients' wait_for_completion would never return.
    from azuremlcore._execution.control import record_if_runner_died

    record_if_runner_died(store, store.get_run(run_id))


@router.post(P + "/runs/{run_id}/start", response_model=m.RunOut)
async def start_run(request: Request, sub: str, rg: str, ws: str, run_id: str) -> Response:
    """Run a submitted script run on the server's host (once); its script logs back with a run token."""
    from azuremlcore.server import jobs

    st, pr, rec = resolve_workspace(request, sub, rg, ws, WRITE)
    st.check_run_read(pr, rec, run_id)
    async with _start_lock:  # two start calls for one run launch one runner
        run = await call(request, st.store.get_run, run_id)
        if run.type != _SCRIPT_RUN_TYPE:
            raise InvalidValueError(f"Run {run_id} is a {run.type} run; only submitted script runs "
                                    f"({_SCRIPT_RUN_TYPE}) can be started on the server.")
        if run.details.get("_runner") or run.status not in ("NotStarted", "Queued"):
            raise InvalidValueError(f"Run {run_id} was already started (status {run.status}).")
        if st.config.ray_address and _on_cluster(st, rec, run):
            return json_response(await _start_on_ray(request, st, rec, run_id))
        workdir = jobs.work_dir(st.config, run_id)
        await call(request, st.store.update_run, run_id, details={"_workingDirectory": str(workdir)})
        try:
            pid = jobs.launch(st.config, run, _endpoint(request), st.config.run_token_lifetime_s,
                              on_exit=lambda: _record_if_runner_died(st.store, run_id))
        except OSError as exc:
            from azuremlcore._timeutil import now_ms

            await call(request, st.store.update_run, run_id, status="Failed", end_time=now_ms(), details={
                "error": {"error": {"code": "SystemError", "message": f"The server could not start the run: {exc}"}}})
            raise
        out = await call(request, st.store.update_run, run_id, status="Queued", details={
            "_runner": {"pid": pid, "pgid": pid, "host": socket.gethostname()}})
    return json_response(out)


def _on_cluster(st, ws_rec, run) -> bool:  # type: ignore[no-untyped-def]
    """Whether the run targets one of the workspace's AmlCompute clusters (which a Ray address backs)."""
    from azuremlcore._execution.slots import compute_spec

    target = run.target or "local"
    spec = None if target in ("local", "") else compute_spec(st.store, ws_rec.id, target)
    return spec is not None and spec.get("computeType") == "AmlCompute"


async def _start_on_ray(request: Request, st, ws_rec, run_id: str):  # type: ignore[no-untyped-def]
    """Submit the run to the server's Ray cluster; its driver logs back here with a run token minted now."""
    from anyio import to_thread

    from azuremlcore._execution import ray
    from azuremlcore._store.handle import WorkspaceHandle

    endpoint = _endpoint(request)
    ws = WorkspaceHandle(st.store, st.artifacts, ws_rec, endpoint)
    token, _exp = st.issue_run_token(run_id, issuer=endpoint)
    try:
        # One CPU per job's driver: Ray keeps further jobs PENDING (the run Queued) while the cluster is full.
        await to_thread.run_sync(lambda: ray.start(ws, run_id, address=st.config.ray_address, token=token,
                                                   num_cpus=1))
    except Exception as exc:  # noqa: BLE001 - the run must not stay Queued when Ray refused it
        from azuremlcore._timeutil import now_ms

        await call(request, st.store.update_run, run_id, status="Failed", end_time=now_ms(), details={
            "error": {"error": {"code": "SystemError", "message": f"The server could not submit the run to its "
                                                                  f"Ray cluster: {exc}"}}})
        raise
    return await call(request, st.store.get_run, run_id)


@router.get(P + "/computes/{name}/cluster")
async def compute_cluster(request: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    """The Ray cluster behind an AmlCompute target (this server's --ray-address): its version and live nodes."""
    from anyio import to_thread

    from azuremlcore._execution.ray_api import RayJobsClient
    from azuremlcore._execution.slots import compute_spec
    from azuremlcore._store.errors import NotFoundError

    st, _pr, rec = resolve_workspace(request, sub, rg, ws)
    spec = await call(request, compute_spec, st.store, rec.id, name)
    if not st.config.ray_address or spec is None or spec.get("computeType") != "AmlCompute":
        raise NotFoundError(f"No Ray cluster backs compute target '{name}' on this server.")
    client = RayJobsClient(st.config.ray_address)
    version, nodes = await to_thread.run_sync(lambda: (client.version(), client.nodes()))
    return json_response({"address": st.config.ray_address, "version": version, "nodes": nodes})


@router.post(P + "/runs/{run_id}/cancel", response_model=m.RunOut)
async def cancel_run(request: Request, sub: str, rg: str, ws: str, run_id: str) -> Response:
    """Cancel a run started on the server: its script's process tree is stopped; returns the run once ended."""
    from anyio import to_thread

    from azuremlcore._execution.control import cancel_run as cancel

    st, pr, rec = resolve_workspace(request, sub, rg, ws, WRITE)
    st.check_run_read(pr, rec, run_id)
    run = await call(request, st.store.get_run, run_id)
    if "_ray" in run.details:  # a job on the server's Ray cluster: stop it there
        from azuremlcore._execution import ray
        from azuremlcore._store.handle import WorkspaceHandle

        ws = WorkspaceHandle(st.store, st.artifacts, rec, _endpoint(request))
        await to_thread.run_sync(ray.cancel, ws, run_id)
        return json_response(await call(request, st.store.get_run, run_id))
    # cancel_run waits (up to seconds) for the runner to record Canceled: off the event loop.
    await to_thread.run_sync(cancel, st.store, run_id)
    return json_response(await call(request, st.store.get_run, run_id))
