"""Starting, probing and stopping a scoring server process (detached: it outlives the notebook)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

_children: dict[int, subprocess.Popen] = {}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start(python: str, port: int, entry: Path, source_dir: Path, model_dir: Path, log_file: Path,
          env_vars: dict[str, str] | None = None) -> int:
    """Start the server in a new session; its output goes to log_file. Returns the pid."""
    from azuremlcore._environments._sdk_link import sdk_dir  # the SDK must import in the service's interpreter

    env = dict(os.environ)
    env.update(env_vars or {})
    env["AZUREML_MODEL_DIR"] = str(model_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(sdk_dir())] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen([python, "-m", "azuremlcore._serving.server", "--port", str(port), "--entry",
                                 str(entry), "--source-dir", str(source_dir)], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=str(source_dir), env=env, start_new_session=True)
    _children[proc.pid] = proc
    return proc.pid


def alive(pid: int | None) -> bool:
    """Whether the process runs (reaping it first when it is our own finished child)."""
    if not pid:
        return False
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie still answers kill(0): check its state
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return True


def healthy(url: str) -> bool:
    """Whether GET url answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our own loopback service
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop(pid: int | None, grace: float = 5.0) -> None:
    """SIGTERM the server's process group, then SIGKILL after a grace period; waits until it is gone."""
    if not pid or not alive(pid):
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.05)
        if not alive(pid):
            break
    child = _children.pop(pid, None)
    if child is not None:
        child.wait(timeout=5)


def python_for(environment: object, log: object = None) -> str:
    """The interpreter a service runs with: this one for no/user-managed environments, else a materialised one."""
    if environment is None:
        return sys.executable
    py = getattr(environment, "python", None)
    if py is not None and getattr(py, "user_managed_dependencies", False):
        path = getattr(py, "interpreter_path", None)
        return path if path and os.path.isabs(path) and os.path.exists(path) else sys.executable
    try:
        from azuremlcore._environments import materialise
    except ImportError:
        return sys.executable
    return str(materialise(environment, log=log).python)  # type: ignore[arg-type]
