"""Runs on a Ray cluster: the run's snapshot and environment become a Ray job, whose driver is the SDK's runner.

`RayExecutor.start` uploads the run's snapshot as the job's working folder, turns the run's
`Environment` into a runtime environment (its pip packages for uv, conda packages only where the
cluster has conda, its variables) and submits ``python -m azuremlcore._execution.ray_job`` over
the Jobs REST API. That driver (see ray_job.py) walks the run like the local runner: statuses,
streamed log, time limit, ``outputs/`` upload, one or many processes. It reaches the workspace as
it is told in its environment, because Ray workers do not inherit the submitting shell's: an
embedded workspace by its folder (the cluster must share this machine's file system), a server
workspace by its URL and a token that can write only this run.

`cancel` stops the Ray job; `reconcile` records the end of a run whose Ray job ended without its
driver saying so (an environment that failed to build, a driver killed).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
import time
from typing import TYPE_CHECKING, Any

from azuremlcore._execution.ray_api import TERMINAL_JOB_STATES, RayClusterError, RayJobsClient
from azuremlcore._store.records import TERMINAL_STATUSES

if TYPE_CHECKING:
    from azuremlcore._store.handle import WorkspaceHandle
    from azuremlcore._store.protocol import WorkspaceStore
    from azuremlcore._store.records import RunRecord

COMPUTE_TYPE = "Ray"
RAY_KEY = "_ray"  # details[_ray] = {address, submissionId}
CANCEL_WAIT_SECONDS = 20.0
# What the driver needs from the submitting side, in the job's environment.
PROCESS_COUNT_ENV = "_AZUREMLCORE_RAY_PROCESS_COUNT"
NODE_COUNT_ENV = "_AZUREMLCORE_RAY_NODE_COUNT"
SDK_VERSION_ENV = "_AZUREMLCORE_CLIENT_VERSION"
_MISSING_SDK = ("echo 'azuremlcore is not importable by the Python that runs Ray jobs on this cluster: install it "
                "there (pip install amlcore-open) and start Ray from that environment.' >&2; exit 3")


def cluster_spec(ws: "WorkspaceHandle", target: str) -> dict[str, Any]:
    """The stored spec of the Ray target `target`."""
    from azuremlcore._execution.slots import compute_spec

    spec = compute_spec(ws.store, ws.id, target)
    if spec is None:
        raise RayClusterError(f"Compute target '{target}' does not exist in workspace '{ws.name}'.")
    return spec


def shares_file_system(spec: dict[str, Any]) -> bool:
    """Whether the cluster sees this machine's files at the same paths (set at attach, else: a loopback head)."""
    shared = (spec.get("properties") or {}).get("sharedFileSystem")
    if shared is not None:
        return bool(shared)
    from urllib.parse import urlparse

    host = urlparse((spec.get("properties") or {}).get("address", "")).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def check_target(ws: "WorkspaceHandle", spec: dict[str, Any]) -> None:
    """Refuse, before a run exists, a Ray target that cannot reach this workspace (RayClusterError says why)."""
    if not ws.endpoint and not shares_file_system(spec):
        raise RayClusterError(
            f"The Ray cluster at {spec['properties']['address']} does not share this machine's file system, so "
            "its jobs cannot reach this embedded workspace. Use a workspace server (aml server, then "
            "Workspace.get(..., auth=...)) or, if every node mounts this workspace's folder at the same path, "
            "attach with RayCompute.attach_configuration(address=..., shared_file_system=True).")


def runtime_env(definition: dict[str, Any], env_vars: dict[str, str], working_dir: str) -> dict[str, Any]:
    """The Ray runtime environment of a run: working folder, packages of its Environment, variables."""
    from azuremlcore._environments._materialise import resolve
    from azuremlcore._environments.spec import env_spec

    renv: dict[str, Any] = {"working_dir": working_dir, "env_vars": dict(env_vars)}
    spec = env_spec(definition or {"name": "default-environment"})
    if spec.user_managed:  # the cluster's own Python, as is
        return renv
    res = resolve(spec)
    if res.conda_only:  # only a cluster with conda can give these; Ray says so if it has none
        deps: list[Any] = list(spec.conda.conda_packages) if spec.conda else []
        if res.requirements:
            deps.append({"pip": list(res.requirements)})
        renv["conda"] = {"channels": list(spec.conda.channels) if spec.conda else [], "dependencies": deps}
    elif res.requirements:
        uv: dict[str, Any] = {"packages": list(res.requirements)}
        if res.pip_options:
            uv["uv_pip_install_options"] = [o for opt in res.pip_options for o in shlex.split(opt)]
        renv["uv"] = uv
    return renv


def _entrypoint(ws: "WorkspaceHandle", run_id: str) -> str:
    args = ["--run-id", run_id, "--subscription-id", ws.subscription_id, "--resource-group", ws.resource_group,
            "--workspace-name", ws.name]
    if ws.endpoint:
        args += ["--endpoint", ws.endpoint]
    return (f"python -c 'import azuremlcore' 2>/dev/null || {{ {_MISSING_SDK}; }}; "
            f"exec python -m azuremlcore._execution.ray_job {' '.join(shlex.quote(a) for a in args)}")


def _job_env(ws: "WorkspaceHandle", rec: "RunRecord", definition: dict[str, Any], spec: dict[str, Any],
             token: str | None = None) -> dict[str, str]:
    from azuremlcore._tracking import run_env
    from azuremlcore._version import __version__

    env = {"PYTHONUNBUFFERED": "1", SDK_VERSION_ENV: __version__,
           PROCESS_COUNT_ENV: str(int(definition.get("processCount") or 1)),
           NODE_COUNT_ENV: str(int(definition.get("nodeCount") or 1))}
    if ws.endpoint:
        if token is None:  # the client asks the server for one (a server submitting mints its own)
            token, _exp = ws.store.issue_run_token(rec.id)  # type: ignore[attr-defined]
        env[run_env.RUN_TOKEN] = token
    else:
        check_target(ws, spec)
        from azuremlcore._store import azuremlcore_home

        env[run_env.HOME] = str(azuremlcore_home())
    return env


def start(ws: "WorkspaceHandle", run_id: str, *, address: str | None = None, token: str | None = None,
          num_cpus: float | None = None) -> None:
    """Submit the queued run to its Ray cluster as a job; returns once Ray has accepted it.

    By default the cluster is the run's Ray target. A workspace server started with a Ray address
    passes `address` (its AmlCompute runs go there), the run `token` it minted, and `num_cpus` the
    job's driver reserves, so that Ray queues jobs while the cluster is full.
    """
    from azuremlcore._tracking.files_mixin import BUILD_LOG

    rec = ws.store.get_run(run_id)
    definition = dict(rec.details.get("runDefinition") or {})
    spec = cluster_spec(ws, str(definition.get("target")))
    by_server = address is not None
    address = address or spec["properties"]["address"]
    client = RayJobsClient(address)
    env = _job_env(ws, rec, definition, spec, token)
    fd, zip_path = tempfile.mkstemp(suffix=".zip")
    os.close(fd)
    try:
        with ws.artifacts.open(ws.snapshots, f"{rec.details['snapshotId']}.zip") as src, open(zip_path, "wb") as dst:
            shutil.copyfileobj(src, dst)
        working_dir = client.upload_package(zip_path)
    finally:
        os.unlink(zip_path)
    renv = runtime_env(definition.get("environment") or {}, env, working_dir)
    # Ray's ids allow letters, digits, '-' and '_'; one Ray job per run.
    submission_id = "azuremlcore-" + re.sub(r"[^A-Za-z0-9_-]", "-", run_id)
    packages = (renv.get("uv") or {}).get("packages") or []
    ws.artifacts.append(ws.run_container(run_id), BUILD_LOG, (
        f"Submitting to the Ray cluster at {address} as job {submission_id}; runtime environment: "
        f"{', '.join(packages) or 'the cluster Python'}\n").encode())
    client.submit(_entrypoint(ws, run_id), renv, submission_id,
                  metadata={"azuremlcore_run_id": run_id, "workspace": ws.name}, entrypoint_num_cpus=num_cpus)
    ws.store.update_run(run_id, details={RAY_KEY: {"address": address, "submissionId": submission_id,
                                                   "byServer": by_server} if by_server else
                                         {"address": address, "submissionId": submission_id}})


def cancel(ws: "WorkspaceHandle", run_id: str) -> None:
    """Stop the run's Ray job; returns once the run is recorded Canceled (or the end it reached meanwhile)."""
    rec = ws.store.get_run(run_id)
    if rec.status in TERMINAL_STATUSES:
        return
    ws.store.update_run(run_id, status="CancelRequested")
    info = rec.details.get(RAY_KEY) or {}
    if info:
        client = RayJobsClient(info["address"])
        try:
            client.stop(info["submissionId"])
        except RayClusterError:
            pass  # a job Ray no longer knows: recorded below
        deadline = time.monotonic() + CANCEL_WAIT_SECONDS
        while time.monotonic() < deadline:
            if ws.store.get_run(run_id).status in TERMINAL_STATUSES:
                return
            try:
                if client.job(info["submissionId"]).get("status") in TERMINAL_JOB_STATES:
                    break
            except RayClusterError:
                break
            time.sleep(0.2)
    _record_end(ws.store, run_id, "Canceled")


def _record_end(store: "WorkspaceStore", run_id: str, status: str, error: dict | None = None) -> "RunRecord":
    from azuremlcore._timeutil import now_ms

    rec = store.get_run(run_id)
    if rec.status in TERMINAL_STATUSES:
        return rec
    t = now_ms()
    fields: dict[str, Any] = {"status": status, "end_time": t}
    if rec.start_time is None:
        fields["start_time"] = t
    if error is not None:
        fields["details"] = {"error": error}
    return store.update_run(run_id, **fields)


def reconcile(store: "WorkspaceStore", rec: "RunRecord") -> "RunRecord":
    """Record the end of a run whose Ray job ended (or vanished) without its driver recording it."""
    info = rec.details.get(RAY_KEY) or {}
    if rec.status in TERMINAL_STATUSES or not info:
        return rec
    client = RayJobsClient(info["address"])
    try:
        job = client.job(info["submissionId"])
    except RayClusterError:
        return rec  # the cluster may be briefly away: ask again next time
    state = job.get("status")
    if state not in TERMINAL_JOB_STATES:
        return rec
    rec = store.get_run(rec.id)  # the driver writes the run's end before Ray sees it exit
    if rec.status in TERMINAL_STATUSES:
        return rec
    if rec.status == "CancelRequested" or state == "STOPPED":
        return _record_end(store, rec.id, "Canceled")
    try:
        tail = "\n".join(client.logs(info["submissionId"]).splitlines()[-20:])
    except RayClusterError:
        tail = ""
    message = (f"The Ray job {info['submissionId']} ended ({state}) before the run could record its end: "
               f"{job.get('message') or ''}\nLast lines of the job's log:\n{tail}")
    return _record_end(store, rec.id, "Failed", {"error": {"code": "RayJobFailed", "message": message}})


class RayExecutor:
    """Runs on an attached Ray cluster, each a Ray job whose driver is the SDK's runner."""

    def start(self, ws: "WorkspaceHandle", run_id: str) -> None:
        """Submit the run as a Ray job."""
        start(ws, run_id)

    def cancel(self, ws: "WorkspaceHandle", run_id: str) -> None:
        """Stop the run's Ray job."""
        cancel(ws, run_id)
