"""The client path into a workspace server: `run.log` throughput with and without the spool, and
MLflow `synchronous=False` calls in a job through the spool against stock MLflow's one request per call.

An `aml server` subprocess on SQLite; each figure is measured in a fresh client process so that
the process-wide writers start empty. Baselines measured in the same run:
- "no spool": the same `run.log` loop with AZUREMLCORE_SPOOL=0 (values kept in memory until sent);
- "stock async": MLflow's own `log_metric(synchronous=False)` path (its async queue, one request per
  call), to the same server from the same job environment with AZUREMLCORE_SPOOL=0.
Values are "stored" once `flush()` returned and the server holds them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

N_POINTS = int(os.environ.get("BENCH_SPOOL_POINTS", "200000"))
N_ASYNC = int(os.environ.get("BENCH_SPOOL_ASYNC", "5000"))
SUB, RG, WS = "bench", "bench", "bench"

CLIENT = """
import json, os, sys, time
from azuremlcore import Experiment, Workspace

n = int(sys.argv[1])
ws = Workspace.get(%r, subscription_id=%r, resource_group=%r)
run = Experiment(ws, "spool").start_logging()
run.log("warm-up", 0)
run.flush()
t0 = time.perf_counter()
for i in range(n):
    run.log("loss", i * 0.001)
t1 = time.perf_counter()
run.flush()
t2 = time.perf_counter()
stored = len(run._store.get_metrics([run.id], "loss"))
run.complete()
print(json.dumps({"loop": n / (t1 - t0), "stored": n / (t2 - t0), "count": stored}))
""" % (WS, SUB, RG)

JOB = """
import json, os, sys, time
import mlflow

n = int(sys.argv[1])
mlflow.log_metric("warm-up", 0)  # the run resolved, the server's MLflow modules loaded
t0 = time.perf_counter()
for i in range(n):
    mlflow.log_metric("a", i, step=i, synchronous=False)
t1 = time.perf_counter()
mlflow.flush_async_logging()
t2 = time.perf_counter()
print(json.dumps({"calls": n / (t1 - t0), "stored": n / (t2 - t0)}))
"""


def _server(work: Path) -> tuple[subprocess.Popen, str, str]:
    from bench_server import _port, _wait

    aml = [sys.executable, "-m", "azuremlcore._cli.main"]
    data = work / "server"
    token = subprocess.check_output(aml + ["token", "create", "--data-dir", str(data), "--user", "bench",
                                           "--role", "Owner"], text=True).strip()
    port = _port()
    proc = subprocess.Popen(aml + ["server", "--data-dir", str(data), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    _wait(f"{url}/health", proc)
    return proc, url, token


def _client(env: dict[str, str], code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    if not out.stdout.strip():
        raise RuntimeError("no output: " + out.stderr[-3000:])
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1])


def _job_env(env: dict[str, str], url: str, token: str) -> dict[str, str]:
    """The variables a job on the server gets, for a run made here (as the server's runner sets them)."""
    from azuremlcore import Experiment, Workspace
    from azuremlcore._tracking.mlflow_uri import build

    os.environ.update(AZUREMLCORE_ENDPOINT=url, AZUREMLCORE_TOKEN=token)
    ws = Workspace.get(WS, subscription_id=SUB, resource_group=RG)
    run = Experiment(ws, "spool-job").start_logging()
    job = dict(env, AZUREML_RUN_ID=run.id, MLFLOW_RUN_ID=run.id, AZUREML_SERVICE_ENDPOINT=url,
               AZUREML_ARM_SUBSCRIPTION=SUB, AZUREML_ARM_RESOURCEGROUP=RG, AZUREML_ARM_WORKSPACE_NAME=WS,
               AZUREML_ARM_PROJECT_NAME="spool-job", AZUREML_EXPERIMENT_ID=run.experiment.id,
               AZUREML_RUN_TOKEN=token, MLFLOW_TRACKING_TOKEN=token,
               MLFLOW_TRACKING_URI=build(SUB, RG, WS, endpoint=url))
    return job


def main() -> None:
    """Measure and print the table."""
    work = Path(tempfile.mkdtemp(prefix="bench-spool-"))
    proc, url, token = _server(work)
    try:
        requests.put(f"{url}/subscriptions/{SUB}/resourceGroups/{RG}/providers/"
                     f"Microsoft.MachineLearningServices/workspaces/{WS}", json={"exist_ok": True},
                     headers={"Authorization": f"Bearer {token}"}).raise_for_status()
        env = dict(os.environ, AZUREMLCORE_HOME=str(work / "home"), AZUREMLCORE_ENDPOINT=url, AZUREMLCORE_TOKEN=token)
        plain = _client(dict(env, AZUREMLCORE_SPOOL="0"), CLIENT, str(N_POINTS))
        spooled = _client(dict(env, AZUREMLCORE_SPOOL="1"), CLIENT, str(N_POINTS))
        results = {"run.log, no spool": plain, "run.log, spool": spooled}
        try:
            import mlflow  # noqa: F401
        except ImportError:
            mlflow_rows = None
        else:
            job = _job_env(env, url, token)
            stock = _client(dict(job, AZUREMLCORE_SPOOL="0"), JOB, str(N_ASYNC))
            job2 = _job_env(env, url, token)
            ours = _client(dict(job2, AZUREMLCORE_SPOOL="1"), JOB, str(N_ASYNC))
            mlflow_rows = (stock, ours)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"{'what':52s} {'value':>14s}")
    for name, r in results.items():
        assert r["count"] == N_POINTS, (name, r)
        print(f"{name + ': loop':52s} {r['loop']:10,.0f} /s")
        print(f"{name + ': stored (log + flush)':52s} {r['stored']:10,.0f} /s")
    print(f"ratio spool / no spool, stored: {spooled['stored'] / plain['stored']:.2f}x "
          f"(loop {spooled['loop'] / plain['loop']:.2f}x)")
    if mlflow_rows:
        stock, ours = mlflow_rows
        print(f"{'baseline: stock MLflow async log_metric, stored':52s} {stock['stored']:10,.0f} /s")
        print(f"{'MLflow async log_metric through the spool, stored':52s} {ours['stored']:10,.0f} /s")
        print(f"ratio spool / stock async: {ours['stored'] / stock['stored']:.1f}x")


if __name__ == "__main__":
    main()
