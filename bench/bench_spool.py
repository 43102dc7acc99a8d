"""The client path into a workspace server: `run.log` throughput and latency through the spool, against
the same loop without the spool and against the stock MLflow client; MLflow `synchronous=False` calls in
a job through the spool against stock MLflow's one request per call.

An `aml server` subprocess on SQLite; each figure is measured in a fresh client process so that the
process-wide writers start empty, and the clients take turns (`BENCH_SPOOL_REPEAT` rounds, the order
reversed every other round), so load that comes and goes on a shared machine moves them alike.

- "loop": points/s the training loop sees (`run.log` returning);
- "stored": points/s from the first `run.log` until `flush()` returned and the server holds them all
  (checked by counting them on the server);
- "CPU µs/point": CPU time (every thread) of the client process from the first `run.log` to the end
  of `flush()`, and of the server process over the whole measure, per point (steadier than rates on a
  shared machine);
- "latency": while a loop logs at a steady `BENCH_SPOOL_PACE` points/s for `BENCH_SPOOL_PACE_S`
  seconds, the bench polls the server (MLflow's `runs/get`, every 20 ms) for the newest stored point
  of the loop's metric: its age (now minus the time it was logged) bounds how long a value waits
  before the server holds it. Median and largest over the polls.

Baselines measured in the same run:
- with BENCH_SPOOL_BASELINE=<commit>: the spooled loops with that commit's SDK (client and server);
- "no spool": the same `run.log` loop with AZUREMLCORE_SPOOL=0 (values kept in memory until sent, as rows);
- "stock MLflow client, log_batch": `MlflowClient.log_batch` of 1,000 points per call in a loop, to the same
  server (the fastest way the stock client sends points);
- "stock async": MLflow's own `log_metric(synchronous=False)` path (its async queue, one request per
  call), to the same server from the same job environment with AZUREMLCORE_SPOOL=0.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

N_POINTS = int(os.environ.get("BENCH_SPOOL_POINTS", "500000"))
N_ASYNC = int(os.environ.get("BENCH_SPOOL_ASYNC", "5000"))
N_STOCK = int(os.environ.get("BENCH_SPOOL_STOCK_POINTS", "100000"))
PACE = int(os.environ.get("BENCH_SPOOL_PACE", "50000"))
PACE_S = float(os.environ.get("BENCH_SPOOL_PACE_S", "5"))
REPEAT = int(os.environ.get("BENCH_SPOOL_REPEAT", "2"))
# A commit to measure beside this checkout (its client and its server): e.g. the code before a change.
BASELINE = os.environ.get("BENCH_SPOOL_BASELINE", "")
SUB, RG, WS = "bench", "bench", "bench"
WS_PATH = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"

# argv: points, pace (points/s; 0: as fast as the loop goes). Prints the run id, "loop done", then the figures.
CLIENT = """
import json, os, sys, time
from azuremlcore import Experiment, Workspace

n, pace = int(sys.argv[1]), float(sys.argv[2])
ws = Workspace.get(%r, subscription_id=%r, resource_group=%r)
run = Experiment(ws, "spool").start_logging()
run.log("warm-up", 0)
run.flush()
print(json.dumps({"run_id": run.id}), flush=True)
t0, c0 = time.perf_counter(), time.process_time()
if pace:
    for c in range(0, n, 1000):
        wait = t0 + c / pace - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        for i in range(c, min(n, c + 1000)):
            run.log("loss", i * 0.001)
else:
    for i in range(n):
        run.log("loss", i * 0.001)
t1 = time.perf_counter()
print(json.dumps({"loop_done": True}), flush=True)
run.flush()
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"flushed": True}), flush=True)
stored = len(run._store.get_metrics([run.id], "loss"))
run.complete()
print(json.dumps({"loop": n / (t1 - t0), "stored": n / (t2 - t0), "count": stored, "n": n,
                  "client_cpu_us": (c2 - c0) / n * 1e6}))
""" % (WS, SUB, RG)

# The stock MLflow client's fastest path: log_batch of 1,000 points per call.
STOCK = """
import json, sys, time
from mlflow import MlflowClient
from mlflow.entities import Metric

n, uri = int(sys.argv[1]), sys.argv[2]
client = MlflowClient(tracking_uri=uri)
exp = client.create_experiment(f"stock-{time.time_ns()}")
run_id = client.create_run(exp).info.run_id
now = int(time.time() * 1000)
print(json.dumps({"run_id": run_id}), flush=True)
t0, c0 = time.perf_counter(), time.process_time()
for s in range(0, n, 1000):
    client.log_batch(run_id, metrics=[Metric("loss", i * 0.001, now + i // 1000, i) for i in range(s, min(n, s + 1000))])
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"flushed": True}), flush=True)
print(json.dumps({"loop": n / dt, "stored": n / dt, "count": n, "n": n, "client_cpu_us": cpu / n * 1e6}))
"""

JOB = """
import json, os, sys, time
import mlflow

n = int(sys.argv[1])
mlflow.log_metric("warm-up", 0)  # the run resolved, the server's MLflow modules loaded
print(json.dumps({"run_id": os.environ["AZUREML_RUN_ID"]}), flush=True)
t0 = time.perf_counter()
for i in range(n):
    mlflow.log_metric("a", i, step=i, synchronous=False)
t1 = time.perf_counter()
mlflow.flush_async_logging()
t2 = time.perf_counter()
print(json.dumps({"flushed": True}), flush=True)
print(json.dumps({"calls": n / (t1 - t0), "stored": n / (t2 - t0), "n": n}))
"""


def _server(work: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str, str]:
    from bench_server import _port, _wait

    aml = [sys.executable, "-m", "azuremlcore._cli.main"]
    data = work / "server"
    work.mkdir(parents=True, exist_ok=True)
    token = subprocess.check_output(aml + ["token", "create", "--data-dir", str(data), "--user", "bench",
                                           "--role", "Owner"], text=True, env=env, cwd=work).strip()
    port = _port()
    # cwd: not this checkout, whose folder would come first on sys.path (and shadow a baseline's tree).
    proc = subprocess.Popen(aml + ["server", "--data-dir", str(data), "--port", str(port)], env=env, cwd=work,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    _wait(f"{url}/health", proc)
    requests.put(url + WS_PATH, json={"exist_ok": True},
                 headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    return proc, url, token


def _baseline_tree(ref: str, work: Path) -> Path:
    """The SDK of commit `ref` (`git archive` of this repository), to be imported through PYTHONPATH."""
    tree = work / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", ref, "azuremlcore", "azuremlmlflow"],
                             capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client(env: dict[str, str], code: str, *args: str, server_pid: int,
            poll: "tuple[str, str] | None" = None) -> dict[str, float]:
    """Run a client script; its figures, with the server's CPU time per point between the client's
    "run_id" line (logging starts) and its "flushed" line (all stored), and with `poll` = (url,
    token) the latency the poller saw until the client's "loop_done" line."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())
    assert proc.stdout is not None
    marks: dict[str, float] = {}
    poller = None
    last = ""
    for line in proc.stdout:
        if not line.startswith("{"):
            continue
        msg = json.loads(line)
        if "run_id" in msg:
            marks["start"] = _cpu_s(server_pid)
            if poll is not None:
                poller = LatencyPoller(poll[0], poll[1], msg["run_id"])
                poller.start()
        elif "loop_done" in msg and poller is not None:
            poller.stop.set()  # later polls would measure the loop's end, not its pace
        elif "flushed" in msg:
            marks["end"] = _cpu_s(server_pid)
        last = line
    err = proc.stderr.read() if proc.stderr else ""
    if proc.wait(timeout=1800) != 0 or not last:
        raise RuntimeError(err[-3000:])
    out = json.loads(last)
    out["server_cpu_us"] = (marks["end"] - marks["start"]) / out["n"] * 1e6
    if poller is not None:
        poller.join(30)
        ages = poller.ages[len(poller.ages) // 10:] or poller.ages  # the first tenth: the first batch on its way
        out.update(lat_median=statistics.median(ages) / 1000, lat_max=max(ages) / 1000, polls=len(poller.ages))
    return out


class LatencyPoller(threading.Thread):
    """Polls the server for the newest stored point of a run's metric; records its age (ms) at each poll."""

    def __init__(self, url: str, token: str, run_id: str, key: str = "loss") -> None:
        super().__init__(daemon=True)
        self.url, self.run_id, self.key = url + WS_PATH + "/api/2.0/mlflow/runs/get", run_id, key
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.ages: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            r = self.session.get(self.url, params={"run_id": self.run_id}, timeout=30)
            now = time.time() * 1000
            r.raise_for_status()
            latest = [m for m in r.json()["run"]["data"].get("metrics", []) if m["key"] == self.key]
            if latest and not self.stop.is_set():
                self.ages.append(now - latest[0]["timestamp"])


def _range(values: list[float], fmt: str) -> str:
    lo, hi = min(values), max(values)
    return format(lo, fmt) if len(values) == 1 or format(lo, fmt) == format(hi, fmt) else \
        f"{format(lo, fmt)}–{format(hi, fmt)}"


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
    try:
        import mlflow  # noqa: F401
    except ImportError:
        has_mlflow = False
    else:
        has_mlflow = True
    results: dict[str, list[dict[str, float]]] = {}
    servers: list[subprocess.Popen] = []
    try:
        proc, url, token = _server(work)
        servers.append(proc)
        env = dict(os.environ, AZUREMLCORE_HOME=str(work / "home"), AZUREMLCORE_ENDPOINT=url, AZUREMLCORE_TOKEN=token)
        plain, spooled = dict(env, AZUREMLCORE_SPOOL="0"), dict(env, AZUREMLCORE_SPOOL="1")
        paced = [str(int(PACE * PACE_S)), str(PACE)]
        measures: list[tuple[str, Any]] = [
            ("run.log, spool", lambda: _client(spooled, CLIENT, str(N_POINTS), "0", server_pid=proc.pid)),
            ("run.log, no spool", lambda: _client(plain, CLIENT, str(N_POINTS), "0", server_pid=proc.pid)),
            (f"run.log, spool, paced at {PACE:,}/s",
             lambda: _client(spooled, CLIENT, *paced, server_pid=proc.pid, poll=(url, token))),
            (f"run.log, no spool, paced at {PACE:,}/s",
             lambda: _client(plain, CLIENT, *paced, server_pid=proc.pid, poll=(url, token))),
        ]
        if BASELINE:  # the same client and server code as of another commit, against its own server
            tree = _baseline_tree(BASELINE, work)
            old_env = dict(os.environ, PYTHONPATH=str(tree))
            old_proc, old_url, old_token = _server(work / "baseline-server", old_env)
            servers.append(old_proc)
            old = dict(old_env, AZUREMLCORE_HOME=str(work / "baseline-home"), AZUREMLCORE_ENDPOINT=old_url,
                       AZUREMLCORE_TOKEN=old_token, AZUREMLCORE_SPOOL="1")
            measures += [
                (f"baseline {BASELINE}: run.log, spool",
                 lambda: _client(old, CLIENT, str(N_POINTS), "0", server_pid=old_proc.pid)),
                (f"baseline {BASELINE}: run.log, spool, paced at {PACE:,}/s",
                 lambda: _client(old, CLIENT, *paced, server_pid=old_proc.pid, poll=(old_url, old_token)))]
        if has_mlflow:
            stock_env = dict(os.environ, MLFLOW_TRACKING_TOKEN=token)
            measures.append(("stock MLflow client, log_batch of 1,000",
                             lambda: _client(stock_env, STOCK, str(N_STOCK), url + WS_PATH, server_pid=proc.pid)))
        for rep in range(REPEAT):
            for name, fn in (measures if rep % 2 == 0 else measures[::-1]):
                results.setdefault(name, []).append(fn())
        mlflow_rows = None
        if has_mlflow:
            job = _job_env(env, url, token)
            stock = _client(dict(job, AZUREMLCORE_SPOOL="0"), JOB, str(N_ASYNC), server_pid=proc.pid)
            job2 = _job_env(env, url, token)
            ours = _client(dict(job2, AZUREMLCORE_SPOOL="1"), JOB, str(N_ASYNC), server_pid=proc.pid)
            mlflow_rows = (stock, ours)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    print(f"{REPEAT} rounds, {N_POINTS:,} points per burst, {int(PACE * PACE_S):,} per paced loop (ranges over rounds)")
    print(f"{'what':44s} {'loop /s':>17s} {'stored /s':>17s} {'latency median / max s':>22s} "
          f"{'CPU µs/point: client':>21s} {'server':>9s}")
    for name, rs in results.items():
        for r in rs:
            assert r["count"] == r["n"], (name, r)  # every point logged is on the server
        lat = (f"{_range([r['lat_median'] for r in rs], '.2f')} / {_range([r['lat_max'] for r in rs], '.2f')}"
               if "lat_max" in rs[0] else "")
        print(f"{name:44s} {_range([r['loop'] for r in rs], ',.0f'):>17s} {_range([r['stored'] for r in rs], ',.0f'):>17s}"
              f" {lat:>22s} {_range([r['client_cpu_us'] for r in rs], '.2f'):>21s}"
              f" {_range([r['server_cpu_us'] for r in rs], '.2f'):>9s}")
    ours = results["run.log, spool"]
    for base in ("run.log, no spool", "stock MLflow client, log_batch of 1,000", f"baseline {BASELINE}: run.log, spool"):
        if base in results:
            ratios = [o["stored"] / b["stored"] for o, b in zip(ours, results[base])]
            print(f"ratio run.log with spool / {base}, stored: {_range(ratios, '.2f')}x")
    if mlflow_rows:
        stock, ours_async = mlflow_rows
        print(f"{'baseline: stock MLflow async log_metric, stored':58s} {stock['stored']:17,.0f}")
        print(f"{'MLflow async log_metric through the spool, stored':58s} {ours_async['stored']:17,.0f}")
        print(f"ratio spool / stock async: {ours_async['stored'] / stock['stored']:.1f}x")


if __name__ == "__main__":
    main()
