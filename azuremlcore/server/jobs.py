"""Jobs on the server's host: launching a submitted run's runner and keeping its run token fresh.

`launch(config, run, endpoint, lifetime_s)` (called by `POST <workspace>/runs/<id>/start`) starts
``python -m azuremlcore.server.jobs`` in its own session, so a run outlives a server restart. That
process opens the server's own store (same database and artifact root), writes a run token to a
file only the server's user can read, re-issues it at half its lifetime, and executes the run with
the ordinary runner. The script gets the server's URL and the token file: `Run.get_context()` and
plain MLflow log back over HTTP with a token that can write only this run, and never an expired one.
No FastAPI here: the runner process stays light.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from azuremlcore._store.records import RunRecord
    from azuremlcore.server.config import ServerConfig

# The runner needs the server's database and artifact root; passed in the environment, never on the
# command line, because a database URL may hold a password and command lines are world-readable.
DB_ENV = "_AZUREMLCORE_SERVER_DB"
ARTIFACT_ROOT_ENV = "_AZUREMLCORE_SERVER_ARTIFACT_ROOT"
RUNNER_LOG = "azureml-logs/runner_log.txt"


def work_dir(config: "ServerConfig", run_id: str) -> Path:
    """Where a run's snapshot is unpacked and its script runs on the server host."""
    return config.data_dir / "work" / run_id


def token_file(config: "ServerConfig", run_id: str) -> Path:
    """The file holding a running job's current run token (mode 0600, in a 0700 folder)."""
    return config.data_dir / "run-tokens" / f"{run_id}.token"


def launch(config: "ServerConfig", run: "RunRecord", endpoint: str, lifetime_s: int,
           on_exit: Callable[[], None] | None = None) -> int:
    """Start the detached runner of a run on this host; returns its pid (also its process group).

    on_exit is called (in a thread of this process) when the runner ends, however it ends.
    """
    from azuremlcore._execution.local import USER_PYTHONPATH
    from azuremlcore._store.artifacts import FileArtifactStore
    from azuremlcore.server import _pydantic_plugins

    env = _pydantic_plugins.for_child(dict(os.environ))
    env.pop("AZUREML_RUN_TOKEN", None)  # the server's own credentials are none of the script's business
    env.pop("AZUREMLCORE_TOKEN", None)
    env.pop("MLFLOW_TRACKING_TOKEN", None)
    env["PYTHONUNBUFFERED"] = "1"
    env[USER_PYTHONPATH] = os.environ.get("PYTHONPATH", "")
    pkg_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if config.db_url:
        env[DB_ENV] = config.db_url
    if config.artifact_root is not None:
        env[ARTIFACT_ROOT_ENV] = str(config.artifact_root)
    log_path = FileArtifactStore(config.artifacts_dir).local_path(f"{run.workspace_id}/runs/{run.id}", RUNNER_LOG)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "azuremlcore.server.jobs", "--run-id", run.id, "--data-dir", str(config.data_dir),
           "--endpoint", endpoint, "--token-lifetime", str(int(lifetime_s))]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=str(config.data_dir), start_new_session=True, close_fds=True)
    def reap() -> None:  # so it does not linger as a zombie while the server lives
        proc.wait()
        if on_exit is not None:
            try:
                on_exit()
            except Exception as exc:  # noqa: BLE001 - a bookkeeping failure must not kill the server
                print(f"after the runner of {run.id} ended: {exc}", file=sys.stderr)

    threading.Thread(target=reap, name=f"azuremlcore-reap-{proc.pid}", daemon=True).start()
    return proc.pid


class TokenKeeper:
    """Writes a fresh token to `path` now and again at half of each token's lifetime, until stopped."""

    def __init__(self, path: Path, mint: Callable[[], tuple[str, int]]) -> None:
        self.path, self._mint = path, mint
        self._stop = threading.Event()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)
        self.expires_on = self._write()
        self._thread = threading.Thread(target=self._loop, name="azuremlcore-run-token", daemon=True)

    def _write(self) -> int:
        token, exp = self._mint()
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token)
        os.replace(tmp, self.path)  # readers see the old token or the new one, never half of one
        return exp

    def _loop(self) -> None:
        while True:
            wait = max(0.2, (self.expires_on - time.time()) / 2)
            if self._stop.wait(wait):
                return
            try:
                self.expires_on = self._write()
            except Exception as exc:  # noqa: BLE001 - try again soon; the old token is still valid for a while
                print(f"run token renewal failed: {exc}", flush=True)
                self._stop.wait(1.0)

    def start(self) -> "TokenKeeper":
        """Start renewing in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop renewing and delete the token file (the last token expires on its own)."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of a server-side runner process."""
    p = argparse.ArgumentParser(prog="azuremlcore.server.jobs")
    p.add_argument("--run-id", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--endpoint", required=True, help="the server URL the script logs to")
    p.add_argument("--token-lifetime", type=int, default=3600)
    a = p.parse_args(argv)

    from azuremlcore._execution.runner import Runner
    from azuremlcore._store.artifacts import FileArtifactStore
    from azuremlcore._store.handle import WorkspaceHandle
    from azuremlcore._store.sql import SqlWorkspaceStore
    from azuremlcore._tracking import run_env
    from azuremlcore._tracking.mlflow_uri import build
    from azuremlcore.server.config import ServerConfig
    from azuremlcore.server.security.keys import SigningKey

    config = ServerConfig(data_dir=Path(a.data_dir), db_url=os.environ.pop(DB_ENV, None),
                          artifact_root=os.environ.pop(ARTIFACT_ROOT_ENV, None))
    store = SqlWorkspaceStore(config.database_url)
    artifacts = FileArtifactStore(config.artifacts_dir)
    rec = store.get_run(a.run_id)
    # The server's own store and artifact root: the script logs back over HTTP, the runner writes here.
    ws = WorkspaceHandle(store, artifacts, store.get_workspace(rec.workspace_id))
    key = SigningKey(config.data_dir)
    endpoint = a.endpoint.rstrip("/")

    def mint() -> tuple[str, int]:
        return key.issue(f"run:{rec.id}", a.token_lifetime, endpoint, kind="run", run_id=rec.id, ws=ws.id)

    print(f"[{time.strftime('%H:%M:%S')}] server runner {os.getpid()} on {socket.gethostname()} for {rec.id}",
          flush=True)
    keeper = TokenKeeper(token_file(config, rec.id), mint).start()
    try:
        first = keeper.path.read_text()
        script_env = {run_env.SERVICE_ENDPOINT: endpoint, run_env.RUN_TOKEN: first,
                      run_env.RUN_TOKEN_FILE: str(keeper.path), "MLFLOW_TRACKING_TOKEN": first}
        script_env["MLFLOW_TRACKING_URI"] = build(ws.subscription_id, ws.resource_group, ws.name, endpoint=endpoint)
        Runner(ws, rec.id, script_env=script_env).execute()
    finally:
        keeper.stop()
        print(f"[{time.strftime('%H:%M:%S')}] server runner done: {store.get_run(rec.id).status}", flush=True)
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
