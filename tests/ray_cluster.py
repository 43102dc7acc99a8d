"""A real two-node Ray cluster on loopback for tests and benchmarks (head 127.0.0.2, worker 127.0.0.3).

Each node is a `ray start --block` process in a session of its own, with Ray's files in a temp
dir; `stop()` ends both sessions and any process still naming that temp dir, so nothing is left.
Both nodes get explicit `--node-ip-address`es on loopback: for 127.0.0.1 Ray substitutes the
host's network address, so a worker would look for the head elsewhere. The nodes run `python`
from this interpreter's folder (a job's driver is `python -m azuremlcore...`).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"


def ray_binary() -> str | None:
    """The `ray` command beside this interpreter, or None when Ray is not installed."""
    here = Path(sys.executable).parent / "ray"
    if here.is_file():
        return str(here)
    try:
        import ray  # noqa: F401
    except ImportError:
        return None
    return shutil.which("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RayCluster:
    """Start with `start()`; `address` is the dashboard URL; `stop()` leaves no process behind."""

    def __init__(self, cpus_per_node: int = 2, workers: int = 1) -> None:
        self.cpus, self.workers = cpus_per_node, workers
        self.temp_dir = tempfile.mkdtemp(prefix="azr-")  # short: Ray's socket paths must stay < 108 chars
        self.gcs_port, self.dashboard_port = _free_port(), _free_port()
        self.address = f"http://127.0.0.1:{self.dashboard_port}"
        self.procs: list[subprocess.Popen[bytes]] = []

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        env["RUNTIME_ENV_RETRY_TIMES"] = "1"  # an environment that cannot build fails once, not three times
        env.pop("RAY_ADDRESS", None)
        return env

    def _start(self, args: list[str], log: str) -> None:
        # Each node's agents on ports of their own: Ray's fixed defaults (52365, ...) would collide with
        # another cluster on this machine, and a head without its job agent accepts no job.
        ports = [f"--dashboard-agent-listen-port={_free_port()}", f"--dashboard-agent-grpc-port={_free_port()}",
                 f"--runtime-env-agent-port={_free_port()}", f"--metrics-export-port={_free_port()}",
                 f"--ray-client-server-port={_free_port()}"]
        with open(Path(self.temp_dir) / log, "ab") as out:
            self.procs.append(subprocess.Popen(
                [str(ray_binary()), "start", "--block", "--disable-usage-stats", f"--num-cpus={self.cpus}",
                 *ports, *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self._env(),
                start_new_session=True))

    def _nodes_alive(self) -> int:
        try:
            out = requests.get(self.address + "/api/v0/nodes", timeout=5).json()
        except (requests.RequestException, ValueError):
            return 0
        return len([n for n in out["data"]["result"]["result"] if n.get("state") == "ALIVE"])

    def start(self, timeout: float = 180.0) -> "RayCluster":
        """Start the head, then the workers; returns once every node is alive (RuntimeError with logs if not)."""
        self._start(["--head", f"--node-ip-address={HEAD_IP}", f"--port={self.gcs_port}",
                     "--dashboard-host=127.0.0.1", f"--dashboard-port={self.dashboard_port}",
                     f"--temp-dir={self.temp_dir}", "--include-dashboard=true"], "head.log")
        deadline = time.monotonic() + timeout
        while self._nodes_alive() < 1:
            self._check(deadline)
        workers = {i: self._start_worker(i) for i in range(self.workers)}
        restarts = 2
        while self._nodes_alive() < 1 + self.workers:
            # Ray gives a joining node 30 s (fixed in its code) to register; on a loaded 2-core machine a
            # worker can miss that and exit. A slow start is not what the suite tests: start it again.
            for i, proc in list(workers.items()):
                if proc.poll() is not None and restarts > 0 and self.procs[0].poll() is None:
                    restarts -= 1
                    try:  # the raylet it started may still run in its session
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.procs.remove(proc)
                    workers[i] = self._start_worker(i)
            self._check(deadline)
        return self

    def _start_worker(self, i: int) -> subprocess.Popen[bytes]:
        self._start([f"--address={HEAD_IP}:{self.gcs_port}", f"--node-ip-address=127.0.0.{3 + i}"],
                    f"worker{i}.log")
        return self.procs[-1]

    def _check(self, deadline: float) -> None:
        if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
            logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in Path(self.temp_dir).glob("*.log"))
            self.stop()
            raise RuntimeError(f"The Ray cluster did not start:\n{logs}")
        time.sleep(0.5)

    def stop(self) -> None:
        """End both nodes' sessions, then any process that still names our temp dir."""
        for p in reversed(self.procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15  # `ray start --block` stops its node's processes on SIGTERM
        for p in reversed(self.procs):
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        for pid in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def leftovers(self) -> list[int]:
        """Pids of processes whose command line names this cluster's temp dir."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if self.temp_dir.encode() in cmdline:
                found.append(int(proc.name))
        return found
