"""The processes of a distributed run on Ray: one actor per process, placed across nodes by a placement group.

A run with `node_count` nodes and `process_count` processes gets a placement group of one bundle
per node (STRICT_SPREAD: each on its own node) holding that node's share of the processes' CPUs.
Each actor starts the script in its own process group with the variables PyTorch and MPI launchers
set (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, NODE_RANK, MASTER_ADDR, MASTER_PORT, and
OMPI_COMM_WORLD_*), and buffers its output; the driver polls every actor, appends each process's
output to ``user_logs/std_log_process_<rank>.txt`` (rank 0's also to ``std_log.txt``, which
`wait_for_completion(show_output=True)` streams), and stops all of them when one fails, on cancel
and at the time limit. Runs in the Ray job's driver only (it imports `ray`).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azuremlcore._execution.runner import Runner

POLL_SECONDS = 0.2
PLACEMENT_TIMEOUT_S = 600.0


def process_log(rank: int) -> str:
    """The run file holding one process's output, named as Azure ML names it."""
    return f"user_logs/std_log_process_{rank}.txt"


class _Process:
    """One process of the run, started and watched by a Ray actor on its node."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.buffer = bytearray()
        self.lock = threading.Lock()
        self.pump: threading.Thread | None = None

    def address(self) -> tuple[str, int]:
        """This node's address and a free port on it (the master's, for rank 0)."""
        import ray

        with socket.socket() as s:
            s.bind(("", 0))
            port = s.getsockname()[1]
        return str(ray.util.get_node_ip_address()), int(port)

    def node(self) -> str:
        """This actor's node address."""
        import ray

        return str(ray.util.get_node_ip_address())

    def start(self, cmd: list[str], env: dict[str, str], driver_dir: str, driver_python: str) -> int:
        """Start the script here (Ray's copy of the working folder on this node); returns its pid."""
        here = os.getcwd()
        env = {k: v.replace(driver_dir, here) if k == "PYTHONPATH" else v for k, v in env.items()}
        # The runtime environment's Python lives at a node-local path: use this node's.
        cmd = [sys.executable if c == driver_python else c for c in cmd]
        kwargs: dict[str, Any] = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
        self.proc = subprocess.Popen(cmd, cwd=here, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, **kwargs)
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()
        return self.proc.pid

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                break
            with self.lock:
                self.buffer += chunk

    def poll(self) -> tuple[bytes, int | None]:
        """Output since the last poll, and the exit code once the process ended and its output is all read."""
        assert self.proc is not None
        code = self.proc.poll()
        if code is not None and self.pump is not None:
            self.pump.join(timeout=5)
        with self.lock:
            out, self.buffer = bytes(self.buffer), bytearray()
        return out, code

    def stop(self, grace: float) -> int | None:
        """SIGTERM the process group, wait up to `grace`, then SIGKILL what is left; returns the exit code."""
        if self.proc is None:
            return None
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                return self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        return self.proc.poll()


def _shares(processes: int, nodes: int) -> list[int]:
    base, extra = divmod(processes, nodes)
    return [base + (1 if i < extra else 0) for i in range(nodes)]


def rank_env(env: dict[str, str], rank: int, local_rank: int, node_rank: int, world: int, local_world: int,
             master: tuple[str, int]) -> dict[str, str]:
    """The variables of one process, as the real service's PyTorch and MPI launchers set them."""
    out = dict(env)
    out.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(local_rank),
                "LOCAL_WORLD_SIZE": str(local_world), "NODE_RANK": str(node_rank), "GROUP_RANK": str(node_rank),
                "MASTER_ADDR": master[0], "MASTER_PORT": str(master[1]),
                "AZ_BATCHAI_TASK_INDEX": str(rank), "AZUREML_PROCESS_NAME": f"rank_{rank}",
                "OMPI_COMM_WORLD_RANK": str(rank), "OMPI_COMM_WORLD_SIZE": str(world),
                "OMPI_COMM_WORLD_LOCAL_RANK": str(local_rank), "OMPI_COMM_WORLD_LOCAL_SIZE": str(local_world),
                "OMPI_COMM_WORLD_NODE_RANK": str(node_rank)})
    return out


def run_distributed(runner: "Runner", cmd: list[str], env: dict[str, str], processes: int,
                    nodes: int) -> tuple[str, dict | None]:
    """Run `processes` copies of the command over `nodes` nodes; returns (status, error) as the runner records."""
    import ray
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    from azuremlcore._execution.runner import KILL_GRACE_SECONDS, _Canceled
    from azuremlcore._tracking.files_mixin import STREAMED_LOG

    processes = max(processes, nodes)
    shares = _shares(processes, nodes)
    driver_dir = os.getcwd()  # before connecting: ray.init may move this process off its working folder
    ray.init(address="auto", log_to_driver=False)
    pg = placement_group([{"CPU": float(n)} for n in shares], strategy="STRICT_SPREAD" if nodes > 1 else "PACK")
    runner.store.update_run(runner.run_id, details={"statusDetail": f"Waiting for {nodes} node(s) with "
                                                                    f"{max(shares)} free CPU(s)"})
    deadline_place = time.monotonic() + PLACEMENT_TIMEOUT_S
    while not ray.wait([pg.ready()], timeout=0.5)[0]:
        if runner.cancel_event.is_set():
            remove_placement_group(pg)
            raise _Canceled()
        if time.monotonic() > deadline_place:
            remove_placement_group(pg)
            return "Failed", {"error": {"code": "UserError", "message": (
                f"The Ray cluster could not place {processes} process(es) on {nodes} distinct node(s) within "
                f"{int(PLACEMENT_TIMEOUT_S)} s: it needs {nodes} nodes with {max(shares)} free CPU(s) each.")}}
    runner.store.update_run(runner.run_id, details={"statusDetail": None})
    actor_cls = ray.remote(num_cpus=1, max_concurrency=4)(_Process)
    actors, layout = [], []
    for node_rank, share in enumerate(shares):
        for local_rank in range(share):
            actors.append(actor_cls.options(scheduling_strategy=PlacementGroupSchedulingStrategy(
                placement_group=pg, placement_group_bundle_index=node_rank)).remote())
            layout.append((node_rank, local_rank, share))
    master = ray.get(actors[0].address.remote())
    for rank, (actor, (node_rank, local_rank, share)) in enumerate(zip(actors, layout)):
        ray.get(actor.start.remote(cmd, rank_env(env, rank, local_rank, node_rank, processes, share, master),
                                   driver_dir, sys.executable))
    placement = ray.get([a.node.remote() for a in actors])
    runner.store.update_run(runner.run_id, details={"_processes": [
        {"rank": r, "node": placement[r], "nodeRank": layout[r][0], "localRank": layout[r][1]}
        for r in range(processes)]})
    max_seconds = float(runner.definition.get("maxRunDurationSeconds") or 2592000)
    deadline = time.monotonic() + max_seconds
    codes: dict[int, int] = {}
    tails: dict[int, list[str]] = {r: [] for r in range(processes)}
    reason = None

    def drain() -> None:
        for rank, (out, code) in enumerate(ray.get([a.poll.remote() for a in actors])):
            if out:
                runner.artifacts.append(runner.container, process_log(rank), out)
                if rank == 0:
                    runner.artifacts.append(runner.container, STREAMED_LOG, out)
                tails[rank] = (tails[rank] + out.decode("utf-8", "replace").splitlines())[-20:]
            if code is not None:
                codes.setdefault(rank, code)

    try:
        while len(codes) < processes:
            drain()
            if any(c != 0 for c in codes.values()):
                reason = "failed"
                break
            if runner.cancel_event.is_set():
                reason = "canceled"
                break
            if time.monotonic() > deadline:
                reason = "timeout"
                break
            runner.cancel_event.wait(POLL_SECONDS)
        if reason is not None:
            ray.get([a.stop.remote(KILL_GRACE_SECONDS) for a in actors])
        drain()
    finally:
        for a in actors:
            ray.kill(a)
        remove_placement_group(pg)
    if reason == "canceled":
        raise _Canceled()
    if reason == "timeout":
        return "Failed", {"error": {"code": "UserError", "message": (
            f"The run exceeded max_run_duration_seconds={int(max_seconds)} and was stopped.\nLast log lines of "
            "process 0:\n" + "\n".join(tails[0]))}}
    # The first process seen failing (the others may then end from the stop) is the one to report.
    first = next((r for r, c in codes.items() if c != 0), None)
    if first is None:
        return "Completed", None
    return "Failed", {"error": {"code": "UserError", "message": (
        f"Process {first} of {processes} (on {placement[first]}) failed with exit code {codes[first]}; the others "
        f"were stopped. Its log is {process_log(first)}; last lines:\n" + "\n".join(tails[first]))}}
