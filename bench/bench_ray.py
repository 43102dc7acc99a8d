"""Submit-to-first-log-line on a Ray cluster, beside the same run on local compute, and with N concurrent runs.

The script's first statement prints `time.time()`; latency is that stamp minus the moment before
`Experiment.submit`, so it covers the whole path (snapshot, run record, and on Ray: package upload,
Jobs API submit, Ray starting the driver, the driver's runner, the script). Measured in one run:
- "local (baseline)": compute_target='local', a user-managed environment (this interpreter);
- "ray, 1 run": the same script on a two-node Ray cluster on loopback started here;
- "ray, N concurrent": N runs submitted back to back; the median and the slowest of their latencies.
Skipped (exit 0, with the reason) when `ray` is not installed. BENCH_RAY_REPEATS (default 3) sets the
repeats of the single-run cases.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ray_cluster import RayCluster, ray_binary  # noqa: E402

REPEATS = int(os.environ.get("BENCH_RAY_REPEATS", "3"))
SCRIPT = "import time\nprint('FIRST', repr(time.time()), flush=True)\n"


def _first_stamp(run) -> float:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            text = run._artifacts.read_from(run._container, "user_logs/std_log.txt", 0).decode()
        except Exception:  # noqa: BLE001 - the log does not exist yet
            text = ""
        for line in text.splitlines():
            if line.startswith("FIRST "):
                return float(line.split()[1])
        time.sleep(0.01)
    raise TimeoutError(f"run {run.id} never printed its first line (status {run.get_status()})")


def _submit(exp, src: Path, target, env):  # type: ignore[no-untyped-def]
    from azuremlcore import ScriptRunConfig

    return exp.submit(ScriptRunConfig(source_directory=str(src), script="first.py", compute_target=target,
                                      environment=env))


def _latencies(exp, src: Path, target, env, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Submit n runs back to back; seconds from each submit() call to its first log line."""
    started = []
    for _ in range(n):
        t0 = time.time()
        started.append((t0, _submit(exp, src, target, env)))
    out = [_first_stamp(run) - t0 for t0, run in started]
    for _t0, run in started:
        run.wait_for_completion(raise_on_error=True)
    return out


def main() -> int:
    """Start a cluster, run the cases, print a table; stop the cluster."""
    if ray_binary() is None:
        print("skipped: ray is not installed (pip install '.[ray]')")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        os.environ["AZUREMLCORE_HOME"] = str(Path(tmp) / "home")
        from azuremlcore import Environment, Experiment, Workspace
        from azuremlcore.compute import ComputeTarget, RayCompute

        src = Path(tmp) / "src"
        src.mkdir()
        (src / "first.py").write_text(SCRIPT)
        ws = Workspace.create("bench", subscription_id="s", resource_group="rg", exist_ok=True, show_output=False)
        exp = Experiment(ws, "bench-ray")
        env = Environment("this-python")
        env.python.user_managed_dependencies = True
        t0 = time.monotonic()
        cluster = RayCluster(cpus_per_node=2).start()
        startup = time.monotonic() - t0
        try:
            target = ComputeTarget.attach(ws, "ray", RayCompute.attach_configuration(address=cluster.address))
            _latencies(exp, src, target, env, 1)  # warm-up: the first job on a fresh cluster starts its workers
            local = [_latencies(exp, src, "local", env, 1)[0] for _ in range(REPEATS)]
            ray1 = [_latencies(exp, src, target, env, 1)[0] for _ in range(REPEATS)]
            base = statistics.median(local)
            rows = [("local (baseline)", base, base), ("ray, 1 run", statistics.median(ray1), max(ray1))]
            for n in (2, 4):
                lat = _latencies(exp, src, target, env, n)
                rows.append((f"ray, {n} concurrent", statistics.median(lat), max(lat)))
        finally:
            cluster.stop()
    print(f"two-node Ray cluster on loopback started in {startup:.1f} s; median of {REPEATS} for single runs")
    print(f"{'case':<22} {'median s':>9} {'slowest s':>10} {'x baseline':>11}")
    for name, med, worst in rows:
        print(f"{name:<22} {med:>9.2f} {worst:>10.2f} {med / base:>11.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
