"""Where `aml server`'s time goes under one part of bench_server's workload: py-spy on the server process.

    .venv/bin/pip install py-spy
    .venv/bin/python bench/profile_server.py log_metric     # or log_batch, history, runs, search
    BENCH_SERVER_POSTGRES_URL=postgresql://... python bench/profile_server.py runs

Starts the server, drives the part with the stock MLflow client while `py-spy record` samples the
server (100 Hz, idle frames left out), then prints the functions with the most samples,
inclusive (a function and what it calls) and by file, so the findings in docs/performance.md can
be checked again. Not run by `make bench` (it needs py-spy, and is for finding, not scoring).
"""
from __future__ import annotations

import collections
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_server as b  # noqa: E402


def drive(part: str, server: b.Server) -> None:
    """Run one part of the workload against the server."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    os.environ["MLFLOW_TRACKING_TOKEN"] = server.token or ""
    client = MlflowClient(tracking_uri=server.uri)
    exp = client.create_experiment(f"p-{time.time_ns()}")
    run_id = client.create_run(exp).info.run_id
    now = int(time.time() * 1000)
    if part == "log_metric":
        for i in range(3000):
            client.log_metric(run_id, "m", float(i), now + i, i)
    elif part in ("log_batch", "history"):
        for s in range(0, 100_000, 1000):
            client.log_batch(run_id, metrics=[Metric("h", float(i), now + i, i) for i in range(s, s + 1000)])
        if part == "history":
            for _ in range(5):
                b._raw_history(server, run_id, "h")
    elif part in ("runs", "search"):
        b._runs_with_params_and_metrics(client, exp, random.Random(1))
        if part == "search":
            for _ in range(50):
                client.search_runs([exp], b.SEARCH_FILTER, order_by=b.SEARCH_ORDER)
    else:
        raise SystemExit(f"unknown part {part!r}: log_metric, log_batch, history, runs or search")


def summarize(raw: Path, top: int = 25) -> None:
    """Print the heaviest functions (inclusive) and files (self) from py-spy's collapsed stacks."""
    inclusive: collections.Counter = collections.Counter()
    by_file: collections.Counter = collections.Counter()
    leaves: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        count = int(n)
        total += count
        frames = stack.split(";")
        for f in set(frames):
            inclusive[f] += count
        leaf = frames[-1]
        leaves[leaf] += count
        by_file[leaf.split("(")[-1].split(":")[0].rstrip(")")] += count
    print(f"{total} samples")
    print("inclusive:")
    for f, n in inclusive.most_common(top):
        print(f"  {n / total:6.1%}  {f}")
    print("inclusive, this project's functions:")
    for f, n in [(f, n) for f, n in inclusive.most_common() if "azuremlcore/" in f and "_cli/" not in f][:top]:
        print(f"  {n / total:6.1%}  {f}")
    print("self, by line:")
    for f, n in leaves.most_common(top):
        print(f"  {n / total:6.1%}  {f}")
    print("self, by file:")
    for f, n in by_file.most_common(top):
        print(f"  {n / total:6.1%}  {f}")


def main() -> int:
    part = sys.argv[1] if len(sys.argv) > 1 else "log_metric"
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    work = Path(tempfile.mkdtemp(prefix="profile-server-"))
    server = b.start_aml(work)
    raw = work / "stacks.txt"
    rate = os.environ.get("PYSPY_RATE", "100")  # samples a second
    rec = subprocess.Popen([spy, "record", "--pid", str(server.proc.pid), "--rate", rate, "--format", "raw",
                            "--output", str(raw), "--nonblocking"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        t0 = time.perf_counter()
        drive(part, server)
        print(f"{part}: {time.perf_counter() - t0:.2f} s")
    finally:
        rec.send_signal(2)
        rec.wait(30)
        server.stop()
    summarize(raw)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
