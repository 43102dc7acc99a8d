"""The detached runner of one submitted run: ``python -m azuremlcore._execution.runner --run-id ...``.

It lives in its own session (started by `submit`), so it outlives the notebook kernel, and walks the
run through Queued → Preparing → Running → Finalizing → Completed / Failed / Canceled:
waits for a node of its cluster, unpacks the snapshot into a fresh working folder, materialises the
environment, runs the script in its own process group with the run's environment variables while
streaming its output to ``user_logs/std_log.txt``, enforces ``max_run_duration_seconds``, uploads
``./outputs``. SIGTERM (from `control.cancel_run`) stops the script's whole process group.
A terminal status someone else set meanwhile (``run.fail()`` from the notebook) is never overwritten.
It works on the workspace's records and stores (a `WorkspaceHandle`), never on the public objects.
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import zipfile
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azuremlcore._environments import MaterialisedEnv
    from azuremlcore._store.handle import WorkspaceHandle

# Runs a script as `python script.py args` would (argv, sys.path[0], __main__), after the SDK's job hooks.
# It must run on every Python a job may use (3.8 up), with or without azuremlcore importable.
_BOOTSTRAP = """import os, runpy, sys
try:
    import azuremlcore._startup as _s
    _s.run_hooks()
except ImportError:
    pass
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
runpy.run_path(sys.argv[0], run_name="__main__")
"""
FROZEN_FILE = "azureml-logs/environment_frozen.txt"
KILL_GRACE_SECONDS = 5.0
TAIL_LINES = 20
_EXC_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b.*")


class _Canceled(BaseException):
    """Raised by the SIGTERM handler while no script runs yet (waiting for a node, building the env)."""


class _RunnerError(Exception):
    """A failure with the error code and message to record."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Runner:
    """Executes one run; `execute()` returns when the run has reached a terminal status."""

    def __init__(self, ws: "WorkspaceHandle", run_id: str, script_env: dict[str, str] | None = None) -> None:
        self.ws, self.run_id = ws, run_id
        # Extra variables for the script (a server-hosted run: the server URL and its run token file).
        self.script_env = dict(script_env or {})
        self.store, self.artifacts, self.container = ws.store, ws.artifacts, ws.run_container(run_id)
        rec = self.store.get_run(run_id)
        self.experiment = self.store.get_experiment(ws.id, experiment_id=rec.experiment_id)
        self.definition: dict[str, Any] = dict(rec.details.get("runDefinition") or {})
        self.cancel_event = threading.Event()
        self.interruptible = False
        self.proc: subprocess.Popen[bytes] | None = None
        self.slot: IO[bytes] | None = None
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)

    # ------------------------------------------------------------------ status
    def _set(self, status: str, **fields: Any) -> bool:
        """Write a status unless the run already ended or a cancel is pending (then only Canceled goes in)."""
        current = self.store.get_run(self.run_id).status
        from azuremlcore._store.records import TERMINAL_STATUSES

        if current in TERMINAL_STATUSES:
            return False
        if current == "CancelRequested" and status != "Canceled":
            self.cancel_event.set()
            return False
        self.store.update_run(self.run_id, status=status, **fields)
        return True

    def _end(self, status: str, error: dict | None = None) -> None:
        from azuremlcore._timeutil import now_ms

        rec = self.store.get_run(self.run_id)
        fields: dict[str, Any] = {"end_time": now_ms()}
        if rec.start_time is None:
            fields["start_time"] = fields["end_time"]
        if error is not None:
            fields["details"] = {"error": error}
        self._set(status, **fields)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.cancel_event.set()
        if self.interruptible:
            self.interruptible = False
            raise _Canceled()

    # ------------------------------------------------------------------ phases
    def execute(self) -> None:
        """Run every phase and record the outcome."""
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        self.store.update_run(self.run_id, details={"_runner": {"pid": os.getpid(), "pgid": os.getpgrp(),
                                                                "host": socket.gethostname()}})
        from azuremlcore._execution.lease import Lease

        lease = Lease(self.store, self.run_id).start()  # a runner that dies without a word fails its run
        workdir: Path | None = None
        try:
            self.interruptible = True
            if self.cancel_event.is_set():
                raise _Canceled()
            self._wait_for_node()
            if not self._set("Preparing"):
                self._check_cancel_or_stop()
            workdir = self._unpack()
            menv = self._materialise()
            self.interruptible = False
            if self.cancel_event.is_set():
                raise _Canceled()
            from azuremlcore._timeutil import now_ms

            self._set("Running", start_time=now_ms())
            outcome, error = self._run_script(menv, workdir)
            self._set("Finalizing")
            self._upload_outputs(workdir, completed=outcome == "Completed")
            self._end(outcome, error)
        except _Canceled:
            self.interruptible = False
            if workdir is not None:
                self._upload_outputs(workdir)
            self._end("Canceled")
        except _RunnerError as exc:
            self.interruptible = False
            if workdir is not None:
                self._upload_outputs(workdir)
            self._end("Failed", {"error": {"code": exc.code, "message": exc.message}})
        except Exception as exc:  # noqa: BLE001 - whatever breaks, the run must not stay Running forever
            self.interruptible = False
            traceback.print_exc()
            code = "UserError" if type(exc).__name__ in ("EnvironmentBuildError", "UserErrorException") else "SystemError"
            self._end("Failed", {"error": {"code": code, "message": f"{type(exc).__name__}: {exc}"}})
        finally:
            lease.stop()
            if self.slot is not None:
                self.slot.close()

    def _check_cancel_or_stop(self) -> None:
        rec = self.store.get_run(self.run_id)
        if rec.status == "CancelRequested" or self.cancel_event.is_set():
            raise _Canceled()
        raise _RunnerError("UserError", f"The run was ended ({rec.status}) before it started.")

    def _wait_for_node(self) -> None:
        """For a cluster target: stay Queued until one of its max_nodes slots is free (oldest waiter first)."""
        from azuremlcore._execution.slots import (LOCAL_TARGETS, capacity, compute_spec, is_my_turn, slot_dir,
                                                  try_acquire)
        from azuremlcore._store import azuremlcore_home

        target = self.definition.get("target") or "local"
        if target in LOCAL_TARGETS:
            return
        waiting = False
        while True:
            spec = compute_spec(self.store, self.ws.id, target)
            if spec is None:
                raise _RunnerError("UserError", f"Compute target '{target}' was deleted before the run could start.")
            slots = capacity(spec)
            if slots is None:
                return
            if is_my_turn(self.store, self.ws.id, target, self.run_id):
                got = try_acquire(slot_dir(azuremlcore_home(), self.ws.id, target), slots)
                if got is not None:
                    self.slot = got[1]
                    self.store.update_run(self.run_id, details={"_waitingForNode": False, "_node": got[0],
                                                                "statusDetail": None})
                    return
            if not waiting:
                waiting = True
                self.store.update_run(self.run_id, details={
                    "_waitingForNode": True,
                    "statusDetail": f"Waiting for a free node of '{target}' (max_nodes={slots})"})
            if self.store.get_run(self.run_id).status in ("CancelRequested", "Canceled", "Failed", "Completed"):
                self._check_cancel_or_stop()
            time.sleep(0.25)

    def _unpack(self) -> Path:
        """Extract the snapshot into the run's own working folder (never the user's source folder)."""
        from azuremlcore._execution.local import working_root

        details = self.store.get_run(self.run_id).details
        workdir = Path(details.get("_workingDirectory") or working_root() / self.run_id)
        workdir.mkdir(parents=True, exist_ok=True)
        snapshot_id = details.get("snapshotId")
        if snapshot_id:
            with self.artifacts.open(f"{self.ws.id}/snapshots", f"{snapshot_id}.zip") as f, \
                    zipfile.ZipFile(f) as zf:
                zf.extractall(workdir)
        self.store.update_run(self.run_id, details={"_workingDirectory": str(workdir)})
        return workdir

    def _materialise(self) -> "MaterialisedEnv":
        from azuremlcore._environments import materialise
        from azuremlcore._environments.spec import env_spec

        env = env_spec(self.definition.get("environment") or {"name": "default-environment"})

        def log(line: str) -> None:
            self.artifacts.append(self.container, _build_log(), (line.rstrip("\n") + "\n").encode())

        menv = materialise(env, log=log)
        if menv.frozen:
            self.artifacts.put(self.container, FROZEN_FILE, menv.frozen.encode())
        else:  # user-managed: list what the interpreter has, beside the run, without delaying its start
            threading.Thread(target=self._freeze, args=(menv.python,), daemon=True).start()
        self.store.update_run(self.run_id, details={"_environment": {
            "python": str(menv.python), "envDir": str(menv.env_dir), "specHash": menv.spec_hash,
            "reused": menv.reused}})
        return menv

    def _freeze(self, python: Path) -> None:
        from azuremlcore._environments._materialise import uv_binary

        uv = uv_binary()
        cmd = [uv, "pip", "freeze", "--python", str(python)] if uv else [str(python), "-m", "pip", "freeze"]
        try:
            out = subprocess.run(cmd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL).stdout
        except (OSError, subprocess.SubprocessError):
            return
        self.artifacts.put(self.container, FROZEN_FILE, out)

    # ------------------------------------------------------------------ the script
    def _command(self, menv: "MaterialisedEnv") -> list[str]:
        args = [str(a) for a in self.definition.get("arguments") or []]
        command = self.definition.get("command")
        if command:
            if isinstance(command, str):
                return ["/bin/sh", "-c", " ".join([command, *map(_shell_quote, args)])]
            return [*command, *args]
        if menv.built:  # an env the SDK built: its start-up .pth runs the job hooks
            return [str(menv.python), str(self.definition["script"]), *args]
        # A user-managed interpreter has no start-up .pth of ours: a bootstrap runs the hooks, then the script.
        return [str(menv.python), "-c", _BOOTSTRAP, str(self.definition["script"]), *args]

    def _environ(self, menv: "MaterialisedEnv", workdir: Path) -> dict[str, str]:
        from azuremlcore._execution.local import USER_PYTHONPATH
        from azuremlcore._store import azuremlcore_home
        from azuremlcore._tracking import run_env

        ws, exp = self.ws, self.experiment
        env = dict(os.environ)
        user_pythonpath = env.pop(USER_PYTHONPATH, "")
        # Scripts import siblings from the source folder's root, wherever the script sits in it.
        env["PYTHONPATH"] = os.pathsep.join([str(workdir)] + ([user_pythonpath] if user_pythonpath else []))
        env["PYTHONUNBUFFERED"] = "1"
        bin_dir = str(Path(menv.python).parent)
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
        if (Path(menv.env_dir) / "pyvenv.cfg").is_file():
            env["VIRTUAL_ENV"] = str(menv.env_dir)
        else:
            env.pop("VIRTUAL_ENV", None)
        env.update({run_env.RUN_ID: self.run_id, run_env.SUBSCRIPTION: ws.subscription_id,
                    run_env.RESOURCE_GROUP: ws.resource_group, run_env.WORKSPACE_NAME: ws.name,
                    run_env.EXPERIMENT_NAME: exp.name, run_env.EXPERIMENT_ID: exp.id,
                    run_env.HOME: str(azuremlcore_home()),
                    "MLFLOW_RUN_ID": self.run_id, "MLFLOW_EXPERIMENT_ID": exp.id, "MLFLOW_EXPERIMENT_NAME": exp.name})
        if ws.endpoint:
            env[run_env.SERVICE_ENDPOINT] = ws.endpoint
        from azuremlcore._startup_names import ALIAS_ENV, JOB_MAIN_ENV

        # `from azureml.core import Run` works in jobs (a real azureml-core in the env still wins); set it to 0 to opt out.
        env.setdefault(ALIAS_ENV, "1")
        env[JOB_MAIN_ENV] = "1"
        uri = None if "MLFLOW_TRACKING_URI" in self.script_env else _mlflow_tracking_uri(ws)
        if uri:
            env["MLFLOW_TRACKING_URI"] = uri
        env.update(self.script_env)
        for source in ((self.definition.get("environment") or {}).get("environmentVariables") or {},
                       self.definition.get("environmentVariables") or {}):
            env.update({str(k): str(v) for k, v in source.items()})
        return env

    def _pump(self, fd: int) -> None:
        """Copy the script's output to the streamed log as it arrives (partial lines too)."""
        pending = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.artifacts.append(self.container, _std_log(), chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            self.tail.extend(line.decode("utf-8", "replace").rstrip("\r") for line in lines)
            pending = pending[-65536:]
        if pending:
            self.tail.append(pending.decode("utf-8", "replace"))

    def _run_script(self, menv: "MaterialisedEnv", workdir: Path) -> tuple[str, dict | None]:
        """Run the script to its end, a cancel or the time limit; returns (status, error)."""
        max_seconds = float(self.definition.get("maxRunDurationSeconds") or 2592000)
        cmd = self._command(menv)
        try:
            self.proc = subprocess.Popen(cmd, cwd=str(workdir), env=self._environ(menv, workdir),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         **_own_process_group())
        except OSError as exc:
            raise _RunnerError("UserError", f"Could not start {cmd[0]}: {exc}") from exc
        assert self.proc.stdout is not None
        self.store.update_run(self.run_id, details={"_runner": {
            "pid": os.getpid(), "pgid": os.getpgrp(), "host": socket.gethostname(),
            "scriptPid": self.proc.pid, "scriptPgid": self.proc.pid}})
        pump = threading.Thread(target=self._pump, args=(self.proc.stdout.fileno(),), daemon=True)
        pump.start()
        deadline = time.monotonic() + max_seconds
        reason = None
        while self.proc.poll() is None:
            if self.cancel_event.is_set():
                reason = "canceled"
                break
            if time.monotonic() > deadline:
                reason = "timeout"
                break
            self.cancel_event.wait(0.05)
        if reason is not None:
            _kill_group(self.proc, KILL_GRACE_SECONDS)
        else:
            _kill_group(self.proc, 0)  # stray children of a finished script go with it
        pump.join(timeout=10)
        self.proc.stdout.close()
        code = self.proc.returncode
        if reason == "canceled":
            raise _Canceled()
        if reason == "timeout":
            return "Failed", {"error": {"code": "UserError", "message": (
                f"The run exceeded max_run_duration_seconds={int(max_seconds)} and was stopped.\n"
                f"Last log lines:\n" + "\n".join(self.tail))}}
        if code == 0:
            return "Completed", None
        return "Failed", {"error": {"code": "UserError", "message": self._failure_message(code)}}

    def _failure_message(self, code: int) -> str:
        lines = [ln for ln in self.tail if ln.strip()]
        what = next((ln.strip() for ln in reversed(lines) if _EXC_LINE.match(ln.strip())), None)
        how = (f"killed by signal {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals()
               else f"exit code {code}")
        script = self.definition.get("script") or "The command"
        head = f"{what}\n\n" if what else ""
        return f"{head}{script} failed ({how}).\nLast log lines:\n" + "\n".join(self.tail)

    def _upload_outputs(self, workdir: Path, completed: bool = False) -> None:
        outputs = workdir / "outputs"
        if outputs.is_dir():
            try:
                for f in sorted(outputs.rglob("*")):  # as run.upload_folder("outputs", ...) stores them
                    if f.is_file():
                        self.artifacts.put(self.container, f"outputs/{f.relative_to(outputs).as_posix()}", f)
            except Exception:  # noqa: BLE001 - a failed upload is reported in the runner log, the status still lands
                traceback.print_exc()
        from azuremlcore._data.run_outputs import finish_outputs

        # OutputFileDatasetConfig arguments (registered only when completed)
        finish_outputs(self.ws, self.run_id, completed)


def _own_process_group() -> dict[str, Any]:
    """Popen arguments that start the script as the leader of its own process group (cancel kills the group)."""
    if sys.version_info >= (3, 11):
        return {"process_group": 0}
    return {"preexec_fn": os.setpgrp}  # Python 3.10 has no process_group argument


def _build_log() -> str:
    from azuremlcore._tracking.files_mixin import BUILD_LOG

    return BUILD_LOG


def _std_log() -> str:
    from azuremlcore._tracking.files_mixin import STREAMED_LOG

    return STREAMED_LOG


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _kill_group(proc: "subprocess.Popen[bytes]", grace: float) -> None:
    """SIGTERM the process group, wait up to `grace` for the leader, then SIGKILL whatever is left."""
    pgid = proc.pid
    if grace > 0:
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _mlflow_tracking_uri(ws: "WorkspaceHandle") -> str | None:
    from azuremlcore._tracking.mlflow_uri import build

    try:
        if ws.endpoint:
            return build(ws.subscription_id, ws.resource_group, ws.name, endpoint=ws.endpoint)
        return build(ws.subscription_id, ws.resource_group, ws.name, home=ws.artifacts.root.parent)
    except Exception:  # noqa: BLE001 - no MLflow variables, but the script still runs
        traceback.print_exc()
        return None


def parse_job_args(prog: str, argv: list[str] | None) -> argparse.Namespace:
    """The arguments a run's driver process gets: the run and its workspace's coordinates (and server)."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--subscription-id", required=True)
    parser.add_argument("--resource-group", required=True)
    parser.add_argument("--workspace-name", required=True)
    parser.add_argument("--endpoint", default=None, help="workspace server URL (embedded when omitted)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the runner process."""
    a = parse_job_args("azuremlcore._execution.runner", argv)
    from azuremlcore._client import open_workspace

    ws = open_workspace(a.subscription_id, a.resource_group, a.workspace_name, endpoint=a.endpoint)
    print(f"[{time.strftime('%H:%M:%S')}] runner {os.getpid()} for {a.run_id}", flush=True)
    Runner(ws, a.run_id).execute()
    print(f"[{time.strftime('%H:%M:%S')}] runner done: {ws.store.get_run(a.run_id).status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
