"""Metric logging from a training loop: azuremlcore's `run.log` against stock MLflow, same machine, same run.

Baselines measured here in the same process:
- "mlflow file store": `mlflow.log_metric` with MLflow's in-process file store (what a laptop gets
  without a server; one synchronous write per call);
- "sync SQL insert": the same SQLite store written one transaction per value (what `run.log`
  would cost without the background writer).
Prints values/s and the ratio of azuremlcore to each baseline.
"""
from __future__ import annotations

import os
import tempfile
import time

N = int(os.environ.get("BENCH_LOG_POINTS", "20000"))
N_BASELINE = int(os.environ.get("BENCH_LOG_BASELINE_POINTS", "2000"))


def bench_azuremlcore() -> tuple[float, float]:
    """(values/s seen by the training loop, values/s until stored) for run.log + flush."""
    from azuremlcore import Experiment, Workspace

    ws = Workspace.create(name="bench", subscription_id="b", resource_group="b", exist_ok=True, show_output=False)
    run = Experiment(ws, "bench-log").start_logging()
    t0 = time.perf_counter()
    for i in range(N):
        run.log("loss", i * 0.001)
    t1 = time.perf_counter()
    run.flush()
    t2 = time.perf_counter()
    assert len(run.get_metrics()["loss"]) == N
    run.complete()
    return N / (t1 - t0), N / (t2 - t0)


def bench_sync_sql() -> float:
    """values/s writing one point per transaction into the same store."""
    from azuremlcore import Experiment, Workspace
    from azuremlcore._store.records import MetricPoint

    ws = Workspace.create(name="bench", subscription_id="b", resource_group="b", exist_ok=True, show_output=False)
    run = Experiment(ws, "bench-sync").start_logging()
    t0 = time.perf_counter()
    for i in range(N_BASELINE):
        ws._store.log_metrics([MetricPoint(run.id, "loss", "scalar", i * 0.001, None, i, int(time.time() * 1000))])
    return N_BASELINE / (time.perf_counter() - t0)


def bench_mlflow_file_store() -> float | None:
    """values/s of mlflow.log_metric with MLflow's local file store, or None without mlflow."""
    try:
        import mlflow
    except ImportError:
        return None
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    mlflow.set_tracking_uri("file://" + tempfile.mkdtemp(prefix="mlruns-"))
    mlflow.set_experiment("bench")
    with mlflow.start_run():
        t0 = time.perf_counter()
        for i in range(N_BASELINE):
            mlflow.log_metric("loss", i * 0.001, step=i)
        return N_BASELINE / (time.perf_counter() - t0)


def main() -> None:
    """Measure and print the table."""
    os.environ.setdefault("AZUREMLCORE_HOME", tempfile.mkdtemp(prefix="bench-home-"))
    loop_rate, stored_rate = bench_azuremlcore()
    sync_rate = bench_sync_sql()
    mlflow_rate = bench_mlflow_file_store()
    print(f"{'what':48s} {'values/s':>12s}")
    print(f"{'azuremlcore run.log (training loop sees)':48s} {loop_rate:12,.0f}")
    print(f"{'azuremlcore run.log + flush (stored)':48s} {stored_rate:12,.0f}")
    print(f"{'baseline: sync SQL insert per value':48s} {sync_rate:12,.0f}")
    if mlflow_rate:
        print(f"{'baseline: stock mlflow.log_metric (file store)':48s} {mlflow_rate:12,.0f}")
    print(f"ratio stored / sync SQL insert: {stored_rate / sync_rate:.1f}x")
    if mlflow_rate:
        print(f"ratio stored / stock mlflow file store: {stored_rate / mlflow_rate:.1f}x")
        print(f"ratio loop / stock mlflow file store: {loop_rate / mlflow_rate:.1f}x")


if __name__ == "__main__":
    main()
