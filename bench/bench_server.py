"""The workspace server against the stock `mlflow server`: same client, same machine, same run.

The stock server is pip-installed in its own venv (~/.cache/azuremlcore-bench/mlflow-venv, made on
first use) and runs with SQLite and one worker (its best setting here). Both are driven by this
venv's MLflow client. Prints each measure and the ratio (azuremlcore / stock; for times and
memory, stock / azuremlcore, so above 1 is always better for azuremlcore). The same client against
a do-nothing endpoint gives its own cost, hence the best ratio any server could show ("ceiling").
Sizes: BENCH_SERVER_SCALE=0.1 for a quick run.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import requests

SCALE = float(os.environ.get("BENCH_SERVER_SCALE", "1"))
N_LOG_METRIC = int(1000 * SCALE)
N_BATCH_POINTS = int(50_000 * SCALE)
N_HISTORY = int(100_000 * SCALE)
N_RUNS = int(500 * SCALE)
VENV = Path(os.environ.get("BENCH_MLFLOW_VENV", Path.home() / ".cache" / "azuremlcore-bench" / "mlflow-venv"))
ARM = "/subscriptions/bench/resourceGroups/bench/providers/Microsoft.MachineLearningServices/workspaces/bench"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, timeout: float = 120) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return time.perf_counter() - t0
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def _pss_kib(pid: int) -> int:
    """PSS of a process and all its descendants, from /proc/<pid>/smaps_rollup."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def _process_count(pid: int) -> int:
    n, todo = 0, [pid]
    while todo:
        p = todo.pop()
        n += 1
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return n


def ensure_mlflow_venv() -> Path:
    """The stock MLflow's venv, created with pip on first use."""
    exe = VENV / "bin" / "mlflow"
    if not exe.exists():
        print(f"installing stock mlflow into {VENV} (first run only)...", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
        subprocess.check_call([str(VENV / "bin" / "pip"), "install", "-q", "mlflow"])
    return exe


def start_stock(work: Path) -> tuple[subprocess.Popen, str, float]:
    exe = ensure_mlflow_venv()
    port = _port()
    proc = subprocess.Popen([str(exe), "server", "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}",
                             "--artifacts-destination", str(work / "mlartifacts"), "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    startup = _wait(f"http://127.0.0.1:{port}/health", proc)
    return proc, f"http://127.0.0.1:{port}", startup


def start_ours(work: Path) -> tuple[subprocess.Popen, str, float, str]:
    aml = [sys.executable, "-m", "azuremlcore._cli.main"]
    data = work / "aml"
    token = subprocess.check_output(aml + ["token", "create", "--data-dir", str(data), "--user", "bench",
                                           "--role", "Owner"], text=True).strip()
    port = _port()
    proc = subprocess.Popen(aml + ["server", "--data-dir", str(data), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    startup = _wait(f"http://127.0.0.1:{port}/health", proc)
    requests.put(f"http://127.0.0.1:{port}{ARM}", json={"exist_ok": True},
                 headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    return proc, f"http://127.0.0.1:{port}{ARM}", startup, token


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _raw_history(uri: str, run_id: str, key: str) -> list:
    session = requests.Session()
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    points: list = []
    page_token = None
    while True:
        params = {"run_id": run_id, "metric_key": key, "max_results": 25_000}
        if page_token:
            params["page_token"] = page_token
        r = session.get(f"{uri}/api/2.0/mlflow/metrics/get-history", params=params)
        r.raise_for_status()
        body = r.json()
        points.extend(body.get("metrics", []))
        page_token = body.get("next_page_token")
        if not page_token:
            return points


def workload(uri: str) -> dict[str, float]:
    """The measures, with this venv's MLflow client against uri."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=uri)
    out: dict[str, float] = {}
    exp = client.create_experiment(f"bench-{time.time_ns()}")
    run_id = client.create_run(exp).info.run_id
    now = int(time.time() * 1000)
    dt = _timed(lambda: [client.log_metric(run_id, "m", float(i), now + i, i) for i in range(N_LOG_METRIC)])
    out["log_metric calls/s"] = N_LOG_METRIC / dt

    def batches(key: str, n: int) -> None:
        for start in range(0, n, 1000):
            client.log_batch(run_id, metrics=[Metric(key, float(i), now + i, i) for i in range(start, min(n, start + 1000))])
    out["log_batch points/s"] = N_BATCH_POINTS / _timed(lambda: batches("b", N_BATCH_POINTS))
    batches("h", N_HISTORY)
    hist: list = []
    out[f"get_metric_history {N_HISTORY} points s"] = _timed(lambda: hist.extend(client.get_metric_history(run_id, "h")))
    assert len(hist) == N_HISTORY, len(hist)
    # The same history as raw HTTP pages (JSON decoded, no MLflow entities): the server's part alone,
    # since the client's protobuf parsing of 100k points costs seconds whichever server answers.
    raw: list = []
    out[f"history pages, raw HTTP, {N_HISTORY} points s"] = _timed(lambda: raw.extend(_raw_history(uri, run_id, "h")))
    assert len(raw) == N_HISTORY, len(raw)
    exp2 = client.create_experiment(f"runs-{time.time_ns()}")
    out[f"create {N_RUNS} runs s"] = _timed(lambda: [client.create_run(exp2) for _ in range(N_RUNS)])
    found: list = []
    out[f"search {N_RUNS} runs s"] = _timed(lambda: found.extend(client.search_runs([exp2], max_results=N_RUNS)))
    assert len(found) == N_RUNS
    return out


def _serve_null(port: int) -> None:
    """A do-nothing MLflow endpoint (run in its own process, so it takes no GIL time from the client)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    page = min(25_000, N_HISTORY)
    points = ",".join(f'{{"key":"h","value":{float(i)!r},"timestamp":{i},"step":{i}}}' for i in range(page))

    async def answer(request: Request) -> Response:
        await request.body()
        path = request.url.path
        if path.endswith("/experiments/create"):
            text = '{"experiment_id":"1"}'
        elif path.endswith("/runs/create"):
            text = '{"run":{"info":{"run_id":"r","experiment_id":"1","status":"RUNNING"},"data":{}}}'
        elif path.endswith("/metrics/get-history"):
            done = int(request.query_params.get("page_token") or 0) + page
            text = '{"metrics":[' + points + "]" + (f',"next_page_token":"{done}"' if done < N_HISTORY else "") + "}"
        else:
            text = "{}"
        return Response(text, media_type="application/json")

    uvicorn.run(Starlette(routes=[Route("/{p:path}", answer, methods=["GET", "POST"])]), host="127.0.0.1",
                port=port, log_level="warning", access_log=False)


def _null_server() -> tuple[str, Callable[[], None]]:
    """What the same client costs with a server that costs nothing: (url, stop)."""
    port = _port()
    proc = subprocess.Popen([sys.executable, __file__, "--null-server", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    while True:
        try:
            requests.post(f"{url}/ping", timeout=1)
            break
        except requests.RequestException:
            if proc.poll() is not None or time.perf_counter() - t0 > 60:
                raise RuntimeError("the null server did not start") from None
            time.sleep(0.05)

    def stop() -> None:
        proc.terminate()
        proc.wait(10)
    return url, stop


def client_floor() -> dict[str, float]:
    """The client's own cost per measure (against the null server), so the best ratio any server could reach."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    url, stop = _null_server()
    try:
        client, now, out = MlflowClient(tracking_uri=url), int(time.time() * 1000), {}
        client.log_metric("r", "warm-up", 0.0, now, 0)
        n = min(N_LOG_METRIC, 500)
        out["log_metric calls/s"] = n / _timed(lambda: [client.log_metric("r", "m", float(i), now + i, i) for i in range(n)])
        n = min(N_BATCH_POINTS, 20_000)
        out["log_batch points/s"] = n / _timed(lambda: [client.log_batch("r", metrics=[
            Metric("b", float(i), now + i, i) for i in range(s, s + 1000)]) for s in range(0, n, 1000)])
        hist: list = []
        out[f"get_metric_history {N_HISTORY} points s"] = _timed(lambda: hist.extend(client.get_metric_history("r", "h")))
        return out
    finally:
        stop()


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-server-"))
    results: dict[str, dict[str, float]] = {}
    procs: list[subprocess.Popen] = []
    try:
        stock, stock_url, stock_start = start_stock(work)
        procs.append(stock)
        time.sleep(2)
        results["stock mlflow server"] = {"start-up s": stock_start, "idle PSS MiB": _pss_kib(stock.pid) / 1024,
                                          "processes": _process_count(stock.pid)}
        ours, our_uri, our_start, token = start_ours(work)
        procs.append(ours)
        time.sleep(2)
        results["aml server"] = {"start-up s": our_start, "idle PSS MiB": _pss_kib(ours.pid) / 1024,
                                 "processes": _process_count(ours.pid)}
        results["stock mlflow server"].update(workload(stock_url))
        os.environ["MLFLOW_TRACKING_TOKEN"] = token
        results["aml server"].update(workload(our_uri))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)
    results["client alone (null server)"] = floor = client_floor()
    a, s = results["aml server"], results["stock mlflow server"]

    def ratio(k: str, ours: float) -> float:
        return (ours / s[k]) if k.endswith("/s") else (s[k] / ours if ours else float("inf"))
    print(f"{'measure':44} {'aml server':>11} {'stock mlflow':>13} {'advantage':>10} {'client alone':>13} {'ceiling':>8}")
    for k in s:
        extra = f" {floor[k]:13.2f} {ratio(k, floor[k]):7.1f}x" if k in floor else ""
        print(f"{k:44} {a[k]:11.2f} {s[k]:13.2f} {ratio(k, a[k]):9.1f}x{extra}")
    print("ceiling: the advantage a server costing nothing would show, given this client's own cost")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--null-server"]:
        _serve_null(int(sys.argv[2]))
    else:
        sys.exit(main())
