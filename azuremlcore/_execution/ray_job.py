"""The driver of a run on Ray: ``python -m azuremlcore._execution.ray_job --run-id ...``, Ray's job entrypoint.

It runs in the job's runtime environment, in the snapshot Ray unpacked as the working folder, and
is the ordinary runner (runner.py) with three differences: Ray already placed the job and built its
environment (no node slot, no virtualenv here), and a distributed job (`PyTorchConfiguration`,
`MpiConfiguration`) starts its processes as Ray actors placed one node per bundle of a placement
group (see ray_processes.py). On a server workspace it keeps its run token fresh in a file that the
script's `Run.get_context()` re-reads.
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore._execution.ray import NODE_COUNT_ENV, PROCESS_COUNT_ENV
from azuremlcore._execution.runner import Runner, parse_job_args

if TYPE_CHECKING:
    from azuremlcore._environments import MaterialisedEnv


class RayRunner(Runner):
    """The runner inside a Ray job: the job's working folder and Python are the run's."""

    def _wait_for_node(self) -> None:
        """Ray queued the job until the cluster had room: nothing to wait for here."""

    def _unpack(self) -> Path:
        """Ray unpacked the snapshot and made it the working folder."""
        workdir = Path.cwd()
        self.store.update_run(self.run_id, details={"_workingDirectory": str(workdir)})
        return workdir

    def _materialise(self) -> "MaterialisedEnv":
        """Ray built the runtime environment: its Python runs the script."""
        from azuremlcore._environments._materialise import MaterialisedEnv

        python = Path(sys.executable)
        threading.Thread(target=self._freeze, args=(python,), daemon=True).start()
        return MaterialisedEnv(python=python, env_dir=Path(sys.prefix), frozen="", spec_hash="", reused=True,
                               built=False)

    def _run_script(self, menv: "MaterialisedEnv", workdir: Path) -> tuple[str, dict | None]:
        processes = int(os.environ.get(PROCESS_COUNT_ENV) or 1)
        nodes = int(os.environ.get(NODE_COUNT_ENV) or 1)
        if processes <= 1 and nodes <= 1:
            return super()._run_script(menv, workdir)
        from azuremlcore._execution.ray_processes import run_distributed

        return run_distributed(self, self._command(menv), self._environ(menv, workdir), processes, nodes)


def _node_ip() -> str:
    try:
        import ray

        return str(ray.util.get_node_ip_address())
    except Exception:  # noqa: BLE001 - only a note in the run's details
        import socket

        return socket.gethostname()


class _TokenFile:
    """The run's credential inside the job: the token in a file that a renewal thread rewrites."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get_authentication_header(self) -> dict[str, str]:
        """The bearer header of the current token."""
        return {"Authorization": f"Bearer {self.path.read_text().strip()}"}


def _write_token(path: Path, token: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    os.replace(tmp, path)  # readers see the old token or the new one, never half of one


def _keep_token_fresh(store: Any, run_id: str, path: Path, expires_on: float, stop: threading.Event) -> None:
    while not stop.wait(max(1.0, (expires_on - time.time()) / 2)):
        try:
            token, expires_on = store.issue_run_token(run_id)
            _write_token(path, token)
        except Exception as exc:  # noqa: BLE001 - the old token is valid a while longer: try again soon
            print(f"run token renewal failed: {exc}", flush=True)
            expires_on = time.time() + 10


def main(argv: list[str] | None = None) -> int:
    """Entry point of the Ray job."""
    a = parse_job_args("azuremlcore._execution.ray_job", argv)
    from azuremlcore._client import open_workspace
    from azuremlcore._tracking import run_env

    print(f"[{time.strftime('%H:%M:%S')}] azuremlcore driver {os.getpid()} for {a.run_id} on {_node_ip()}",
          flush=True)
    script_env: dict[str, str] = {}
    stop = threading.Event()
    auth = None
    if a.endpoint:
        token = os.environ.pop(run_env.RUN_TOKEN, "")
        folder = Path(tempfile.mkdtemp(prefix="azuremlcore-run-token-"))
        token_path = folder / "token"
        _write_token(token_path, token)
        auth = _TokenFile(token_path)
        from azuremlcore._tracking.mlflow_uri import build

        script_env = {run_env.SERVICE_ENDPOINT: a.endpoint, run_env.RUN_TOKEN: token,
                      run_env.RUN_TOKEN_FILE: str(token_path), "MLFLOW_TRACKING_TOKEN": token,
                      "MLFLOW_TRACKING_URI": build(a.subscription_id, a.resource_group, a.workspace_name,
                                                   endpoint=a.endpoint)}
    elif not (Path(os.environ.get(run_env.HOME, "")) / "workspaces.db").is_file():
        print(f"The embedded workspace folder {os.environ.get(run_env.HOME)!r} is not visible on this Ray node: "
              "its file system is not shared with the submitting machine. Use a workspace server.", flush=True)
        return 4
    ws = open_workspace(a.subscription_id, a.resource_group, a.workspace_name, endpoint=a.endpoint, auth=auth)
    if a.endpoint:
        import jwt

        exp = float(jwt.decode(token, options={"verify_signature": False}).get("exp", time.time() + 600))
        threading.Thread(target=_keep_token_fresh, args=(ws.store, a.run_id, token_path, exp, stop),
                         daemon=True).start()
    try:
        RayRunner(ws, a.run_id, script_env=script_env).execute()
    finally:
        stop.set()
    status = ws.store.get_run(a.run_id).status
    print(f"[{time.strftime('%H:%M:%S')}] driver done: {status}", flush=True)
    # Ray's own job state follows the run's (a failed run is a failed Ray job).
    return 0 if status == "Completed" else 1


if __name__ == "__main__":
    sys.exit(main())
