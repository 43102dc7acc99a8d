"""The workspace server against FastTrackML and the stock `mlflow server`: same client, same machine, same run.

Three servers, each started BENCH_SERVER_STARTS times (the median start-up shown) and measured idle,
then driven by this venv's stock MLflow client, one measure for each server in turn (so the shared
machine's load moves every server's figure of a measure alike):

* `aml server` (this checkout), SQLite in its data dir, every request authenticated with a bearer token;
* FastTrackML 0.6 (G-Research's MLflow-compatible server in Go), pip-installed with its `fml`
  binary into its own venv (~/.cache/azuremlcore-bench/fasttrackml-venv, made on first use), SQLite;
* stock MLflow (~/.cache/azuremlcore-bench/mlflow-venv, made on first use), SQLite, one worker
  (its best setting here).

The same client against a do-nothing endpoint gives its own cost per measure ("client alone"),
so the best any server could show. Prints each measure for the three servers side by side, the
ratios of aml server to each baseline (above 1 is better for aml server, for rates and times
alike) and aml server's share of the client-alone ceiling.

Environment:
  BENCH_SERVER_SCALE=0.1     a quick run (sizes scale; 1 = the issue's harness: 10k log_metric
                             calls, 100k points in batches, 100k history, 500 runs, 10k async calls)
  BENCH_SERVER_ONLY=aml,fasttrackml,stock   which servers (all by default)
  BENCH_SERVER_REVERSE=1     start and drive the servers in reverse order
  BENCH_SERVER_STARTS=3      starts of each server (the first ones stopped at once); the median start-up shown
  BENCH_SERVER_SEARCH_REPEAT=15 timed calls of the filtered search per server (taken in turn; median shown)
  BENCH_STOCK_MAX_CALLS=2000 at most this many one-call-per-point calls against stock MLflow (it is slow)
  BENCH_SERVER_POSTGRES_URL=postgresql://user@host:port/db   aml server and FastTrackML on
                             PostgreSQL (a database of their own each, created and dropped here)
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import requests

SCALE = float(os.environ.get("BENCH_SERVER_SCALE", "1"))
N_LOG_METRIC = max(100, int(10_000 * SCALE))
N_BATCH_POINTS = max(1000, int(100_000 * SCALE))
N_HISTORY = max(1000, int(100_000 * SCALE))
N_RUNS = max(20, int(500 * SCALE))
N_ASYNC = max(100, int(10_000 * SCALE))
CACHE = Path.home() / ".cache" / "azuremlcore-bench"
MLFLOW_VENV = Path(os.environ.get("BENCH_MLFLOW_VENV", CACHE / "mlflow-venv"))
FML_VENV = Path(os.environ.get("BENCH_FASTTRACKML_VENV", CACHE / "fasttrackml-venv"))
POSTGRES = os.environ.get("BENCH_SERVER_POSTGRES_URL")
# Stock MLflow answers 15-60 calls/s here: its one-call-per-point rates are measured on at most this many calls
# (a rate is a rate; 10k calls would take it 3-11 minutes twice over).
STOCK_MAX_CALLS = int(os.environ.get("BENCH_STOCK_MAX_CALLS", "2000"))
ARM = "/subscriptions/bench/resourceGroups/bench/providers/Microsoft.MachineLearningServices/workspaces/bench"
AML, FML, STOCK = "aml server", "FastTrackML 0.6", "stock mlflow"
# aml server answering metric calls only once stored (BENCH_SERVER_ONLY=aml,aml-sync: the write-behind's A/B).
AML_SYNC = "aml-sync"
ALL = (AML, AML_SYNC, FML, STOCK)
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p1 = 'b'"
SEARCH_ORDER = ["metrics.m2 DESC"]
SEARCH_REPEAT = int(os.environ.get("BENCH_SERVER_SEARCH_REPEAT", "15"))
# One start is one sample of a fraction of a second, and the machine's load at that moment moves it by a third
# (aml server: 0.42-0.62 s on the same code); every server is started this many times, each on a new data dir.
STARTS = max(1, int(os.environ.get("BENCH_SERVER_STARTS", "3")))
# The history is read this many times, each server's read and the client alone's in turn, and the median shown:
# the client's own CPU for the same 100k points varies by +-10 % from one moment to the next on this machine, so
# one read a side cannot show whether a server is within 10 % of the client alone.
HISTORY_REPEAT = int(os.environ.get("BENCH_SERVER_HISTORY_REPEAT", "5"))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, timeout: float = 180) -> float:
    """Seconds from now until url answers 200 (polled every 10 ms)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return time.perf_counter() - t0
        except requests.RequestException:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out.extend(int(c) for c in (task / "children").read_text().split())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return out


def _tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(_children(p))
    return seen


def _pss_kib(pid: int) -> int:
    """PSS of a process and all its descendants, from /proc/<pid>/smaps_rollup."""
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def _venv(path: Path, exe: str, package: str) -> Path:
    """A baseline's own venv, made with pip on first use; returns its executable."""
    found = path / "bin" / exe
    if not found.exists():
        print(f"installing {package} into {path} (first run only)...", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", str(path)])
        subprocess.check_call([str(path / "bin" / "pip"), "install", "-q", package])
    return found


def _pg_database(name: str) -> str:
    """A fresh PostgreSQL database of that name next to BENCH_SERVER_POSTGRES_URL's; returns its URL."""
    import sqlalchemy as sa

    base = POSTGRES.replace("postgresql://", "postgresql+psycopg://", 1)  # type: ignore[union-attr]
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return POSTGRES.rsplit("/", 1)[0] + "/" + name  # type: ignore[union-attr]


@dataclass
class Server:
    """One running server: its process, the tracking URI the client uses, and its figures."""

    name: str
    proc: subprocess.Popen
    uri: str
    health: str
    token: str | None = None
    figures: dict[str, float] = field(default_factory=dict)

    def session(self) -> requests.Session:
        s = requests.Session()
        if self.token:
            s.headers["Authorization"] = f"Bearer {self.token}"
        return s

    def stop(self) -> None:
        """Stop the server and whatever it started (stock MLflow's workers): its whole process group."""
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue


def _launch(name: str, cmd: list[str], base: str, uri: str, **kw: Any) -> Server:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, **kw)
    server = Server(name, proc, uri, base + "/health")
    server.figures["start-up s"] = _wait(server.health, proc)
    return server


def start_stock(work: Path) -> Server:
    exe = _venv(MLFLOW_VENV, "mlflow", "mlflow")
    port = _port()
    base = f"http://127.0.0.1:{port}"
    return _launch(STOCK, [str(exe), "server", "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}",
                           "--artifacts-destination", str(work / "mlartifacts"), "--host", "127.0.0.1",
                           "--port", str(port), "--workers", "1"], base, base)


def start_fml(work: Path) -> Server:
    exe = _venv(FML_VENV, "fml", "fasttrackml")
    port = _port()
    base = f"http://127.0.0.1:{port}"
    db = _pg_database("bench_fml").replace("postgresql://", "postgres://", 1) if POSTGRES \
        else f"sqlite://{work / 'fml.db'}"
    return _launch(FML, [str(exe), "server", "--listen-address", f"127.0.0.1:{port}", "--database-uri", db,
                         "--default-artifact-root", str(work / "fml-artifacts")], base, base,
                   cwd=str(work))


def start_aml(work: Path, db_url: str | None = None, sync: bool = False) -> Server:
    """aml server on <work>/aml (db_url, or a fresh PostgreSQL database with BENCH_SERVER_POSTGRES_URL, or SQLite);
    sync: with --no-write-behind, on <work>/aml-sync."""
    aml = [sys.executable, "-m", "azuremlcore._cli.main"]
    # As an installed package is: without this, a checkout under PYTHONDONTWRITEBYTECODE=1 recompiles its
    # modules at every start (about 0.07 s of the start-up figure).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parents[1] / "azuremlcore")],
                   check=True, stdout=subprocess.DEVNULL)
    data = work / ("aml-sync" if sync else "aml")
    db_url = db_url or (_pg_database("bench_aml_sync" if sync else "bench_aml") if POSTGRES else None)
    db = ["--db", db_url] if db_url else []
    token = subprocess.check_output(aml + ["token", "create", "--data-dir", str(data), *db, "--user", "bench",
                                           "--role", "Owner"], text=True).strip()
    port = _port()
    base = f"http://127.0.0.1:{port}"
    server = _launch(AML_SYNC if sync else AML, aml + ["server", "--data-dir", str(data), *db, "--port", str(port)]
                     + (["--no-write-behind"] if sync else []), base, base + ARM)
    server.token = token
    server.session().put(server.uri, json={"exist_ok": True}).raise_for_status()
    return server


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def first_request(server: Server) -> float:
    """Seconds the first MLflow request (create_experiment) takes after start-up, connection already open."""
    s = server.session()
    s.get(server.health).raise_for_status()
    t0 = time.perf_counter()
    r = s.post(f"{server.uri}/api/2.0/mlflow/experiments/create", json={"name": f"first-{time.time_ns()}"})
    dt = time.perf_counter() - t0
    r.raise_for_status()
    return dt


def _raw_history(server: Server, run_id: str, key: str) -> list:
    session, points, page_token = server.session(), [], None
    while True:
        params: dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": 25_000}
        if page_token:
            params["page_token"] = page_token
        r = session.get(f"{server.uri}/api/2.0/mlflow/metrics/get-history", params=params)
        r.raise_for_status()
        body = r.json()
        points.extend(body.get("metrics", []))
        page_token = body.get("next_page_token")
        if not page_token:
            return points


def _runs_with_params_and_metrics(client: Any, exp: str, rng: random.Random) -> dict[str, tuple]:
    """Create N_RUNS runs, each with 5 params and 5 metrics (one log_batch); returns what the search must find."""
    from mlflow.entities import Metric, Param

    now, made = int(time.time() * 1000), {}
    for i in range(N_RUNS):
        run_id = client.create_run(exp).info.run_id
        values = [rng.random() for _ in range(5)]
        params = [Param(f"p{j}", "abc"[(i + j) % 3]) for j in range(5)]
        client.log_batch(run_id, metrics=[Metric(f"m{j}", v, now, 0) for j, v in enumerate(values)], params=params)
        made[run_id] = (values, {p.key: p.value for p in params})
    return made


def workload(server: Server) -> Iterator[dict[str, Any]]:
    """The measures, with this venv's MLflow client against the server: yields after each one (its figure, or a
    rate's slice as (count, seconds)).

    main() drives the servers' workloads in turns, one measure each, so the machine's load (shared,
    noisy) moves every server's figure of a measure alike.
    """
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    def token() -> None:  # the client reads it at each request; other servers' turns change it
        if server.token:
            os.environ["MLFLOW_TRACKING_TOKEN"] = server.token
        else:
            os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
    token()
    client = MlflowClient(tracking_uri=server.uri)
    exp = client.create_experiment(f"bench-{time.time_ns()}")
    run_id = client.create_run(exp).info.run_id
    now = int(time.time() * 1000)
    n_calls = min(N_LOG_METRIC, STOCK_MAX_CALLS) if server.name == STOCK else N_LOG_METRIC
    n_async = min(N_ASYNC, STOCK_MAX_CALLS) if server.name == STOCK else N_ASYNC
    # Rates in ten slices, each server's slice in turn: load that comes and goes hits all servers alike.
    for part in _slices(n_calls):
        yield {"log_metric calls/s": (len(part), _timed(
            lambda: [client.log_metric(run_id, "m", float(i), now + i, i) for i in part]))}
        token()

    def batches(key: str, n: int, start: int = 0) -> None:
        for first in range(start, start + n, 1000):
            client.log_batch(run_id, metrics=[Metric(key, float(i), now + i, i)
                                              for i in range(first, min(start + n, first + 1000))])
    for part in _slices(N_BATCH_POINTS // 1000):
        yield {"log_batch points/s": (len(part) * 1000, _timed(lambda: batches("b", len(part) * 1000,
                                                                            part[0] * 1000)))}
        token()
    batches("h", N_HISTORY)
    for _ in range(HISTORY_REPEAT):  # each server's read (and the client alone's) in turn: the median shown
        hist: list = []
        out = {f"history {N_HISTORY} points s": [
            _timed(lambda: hist.extend(client.get_metric_history(run_id, "h")))]}
        assert len(hist) == N_HISTORY, len(hist)
        # The same history as raw HTTP pages (JSON decoded, no MLflow entities): the server's part alone,
        # since the client's protobuf parsing of 100k points costs seconds whichever server answers.
        raw: list = []
        out[f"history {N_HISTORY}, raw HTTP pages s"] = [
            _timed(lambda: raw.extend(_raw_history(server, run_id, "h")))]
        assert len(raw) == N_HISTORY, len(raw)
        yield out
        token()
    exp2 = client.create_experiment(f"runs-{time.time_ns()}")
    made: dict[str, tuple] = {}
    yield {f"create {N_RUNS} runs (5 params, 5 metrics) s": _timed(
        lambda: made.update(_runs_with_params_and_metrics(client, exp2, random.Random(7))))}
    token()
    expected = sorted((rid for rid, (m, p) in made.items() if m[0] > 0.5 and p["p1"] == "b"),
                      key=lambda rid: -made[rid][0][2])
    # SEARCH_REPEAT timed calls, each server's call in turn, the median reported (the first call included:
    # a user's search is often the first of its shape), every answer checked.
    for _ in range(SEARCH_REPEAT):
        found: list = []
        took = _timed(lambda: found.extend(client.search_runs([exp2], SEARCH_FILTER, max_results=N_RUNS,
                                                              order_by=SEARCH_ORDER)))
        assert [r.info.run_id for r in found] == expected, (len(found), len(expected))
        yield {f"filtered search, {N_RUNS} runs s": [took]}
        token()
    run2 = client.create_run(exp).info.run_id

    def async_calls(part: range) -> None:
        ops = [client.log_metric(run2, "a", float(i), now + i, i, synchronous=False) for i in part]
        for op in ops:
            op.wait()
    for part in _slices(n_async):
        yield {"async log_metric calls/s": (len(part), _timed(lambda: async_calls(part)))}
        token()
    assert len(client.get_metric_history(run2, "a")) == n_async


def _slices(n: int, parts: int = 10) -> list[range]:
    step = max(1, n // parts)
    return [range(i, min(n, i + step)) for i in range(0, n, step)]


def _serve_null(port: int) -> None:
    """A do-nothing MLflow endpoint (run in its own process, so it takes no GIL time from the client)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    # The pages a server answers for the bench's history (`batches("h", N_HISTORY)`: value float(i), timestamp
    # now + i, step i), byte for byte as aml server writes them (orjson, 13-digit timestamps, each page its own
    # points), so the client alone decodes the same bytes as against a server. (Until history3 this served page
    # one's points four times with timestamps i: 14 % fewer bytes.)
    try:
        from orjson import dumps as _dumps
    except ImportError:  # pragma: no cover - the server extra brings orjson
        def _dumps(obj: Any) -> bytes:
            return json.dumps(obj, separators=(",", ":")).encode()
    page, now = min(25_000, N_HISTORY), int(time.time() * 1000)
    pages: dict[int, bytes] = {}
    for first in range(0, N_HISTORY, page):
        body: dict[str, Any] = {"metrics": [{"key": "h", "value": float(i), "timestamp": now + i, "step": i}
                                            for i in range(first, min(N_HISTORY, first + page))]}
        if first + page < N_HISTORY:
            body["next_page_token"] = str(first + page)
        pages[first] = _dumps(body)

    async def answer(request: Request) -> Response:
        await request.body()
        path = request.url.path
        if path.endswith("/experiments/create"):
            text = '{"experiment_id":"1"}'
        elif path.endswith("/runs/create"):
            text = '{"run":{"info":{"run_id":"r","experiment_id":"1","status":"RUNNING"},"data":{}}}'
        elif path.endswith("/metrics/get-history"):
            return Response(pages[int(request.query_params.get("page_token") or 0)], media_type="application/json")
        else:
            text = "{}"
        return Response(text, media_type="application/json")

    uvicorn.run(Starlette(routes=[Route("/{p:path}", answer, methods=["GET", "POST"])]), host="127.0.0.1",
                port=port, log_level="warning", access_log=False)


NULL = "client alone"


def start_null(work: Path) -> Server:
    """The do-nothing endpoint (its own process, so it takes no GIL time from the client)."""
    port = _port()
    base = f"http://127.0.0.1:{port}"
    return _launch(NULL, [sys.executable, __file__, "--null-server", str(port)], base, base)


def null_workload(server: Server) -> Iterator[dict[str, Any]]:
    """The client's own cost for the measures the ceiling is about, sliced and taken in turn with the servers'."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
    client, now = MlflowClient(tracking_uri=server.uri), int(time.time() * 1000)
    for part in _slices(N_LOG_METRIC):
        yield {"log_metric calls/s": (len(part), _timed(
            lambda: [client.log_metric("r", "m", float(i), now + i, i) for i in part]))}
    for part in _slices(N_BATCH_POINTS // 1000):
        yield {"log_batch points/s": (len(part) * 1000, _timed(lambda: [client.log_batch("r", metrics=[
            Metric("b", float(i), now + i, i) for i in range(k * 1000, k * 1000 + 1000)]) for k in part]))}
    for _ in range(HISTORY_REPEAT):
        hist: list = []
        yield {f"history {N_HISTORY} points s": [_timed(lambda: hist.extend(client.get_metric_history("r", "h")))]}


STARTERS = {AML: start_aml, AML_SYNC: lambda work: start_aml(work, sync=True), FML: start_fml, STOCK: start_stock}
KEYS = {"aml": AML, "aml-sync": AML_SYNC, "fasttrackml": FML, "stock": STOCK}


def _ratio(key: str, ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return ""
    return f"{(ours / theirs) if key.endswith('/s') else (theirs / ours):.2f}x"


def report(results: dict[str, dict[str, float]], floor: dict[str, float]) -> None:
    """The side-by-side table: each figure, aml server's advantage over each baseline, its share of the ceiling."""
    names = [n for n in ALL if n in results]
    keys: list[str] = []
    for n in names:
        keys.extend(k for k in results[n] if k not in keys)
    head = f"{'measure':42}" + "".join(f"{n:>17}" for n in names)
    head += "".join(f"{'vs ' + n.split()[0]:>14}" for n in names[1:] if AML in names) + f"{'client alone':>14}{'aml/client':>11}"
    print(head)
    for k in keys:
        row = f"{k:42}" + "".join(f"{results[n].get(k, float('nan')):17.3f}" for n in names)
        if AML in names:
            row += "".join(f"{_ratio(k, results[AML].get(k), results[n].get(k)):>14}" for n in names[1:])
        if k in floor:
            share = results.get(AML, {}).get(k)
            pct = (share / floor[k] if k.endswith("/s") else floor[k] / share) if share else float("nan")
            row += f"{floor[k]:14.3f}{pct:10.0%} "
        print(row)
    print("vs X: aml server's advantage over X (above 1 is better, for rates and times alike); aml/client: its "
          "share of what the same client reaches against a server that does nothing (100% = the ceiling).")


def main() -> int:
    only = [KEYS[s.strip()] for s in os.environ.get("BENCH_SERVER_ONLY", "aml,fasttrackml,stock").split(",")
            if s.strip()]
    order = [n for n in ALL if n in only]
    if os.environ.get("BENCH_SERVER_REVERSE"):
        order.reverse()
    work = Path(tempfile.mkdtemp(prefix="bench-server-"))
    results: dict[str, dict[str, float]] = {}
    floor: dict[str, float] = {}
    print(f"scale {SCALE}: {N_LOG_METRIC} log_metric, {N_BATCH_POINTS} batch points, {N_HISTORY} history, "
          f"{N_RUNS} runs, {N_ASYNC} async; order {', '.join(order)}; "
          f"database {'PostgreSQL' if POSTGRES else 'SQLite'}", flush=True)
    servers: list[Server] = []
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for name in order:  # started one after the other, measured alone, then left idle
            starts = samples[(name, "start-up s")] = []
            for _ in range(STARTS - 1):  # the earlier starts, each on its own data dir, stopped once up
                extra = STARTERS[name](Path(tempfile.mkdtemp(prefix="start-", dir=work)))
                extra.stop()
                starts.append(extra.figures["start-up s"])
            server = STARTERS[name](work)
            starts.append(server.figures["start-up s"])
            server.figures["start-up s"] = statistics.median(starts)
            servers.append(server)
            time.sleep(2)  # settled: what an idle server holds
            server.figures["idle PSS MiB"] = _pss_kib(server.proc.pid) / 1024
            server.figures["processes"] = len(_tree(server.proc.pid))
            server.figures["first request s"] = first_request(server)
        null = start_null(work)
        servers.append(null)
        runs = [(server, null_workload(server) if server is null else workload(server)) for server in servers]
        sums: dict[tuple[str, str], list[float]] = {}
        while runs:  # one measure (or one slice of a rate) per server in turn
            for server, steps in list(runs):
                try:
                    for key, value in next(steps).items():
                        if isinstance(value, tuple):  # (count, seconds) of a slice: the rate of all slices
                            total = sums.setdefault((server.name, key), [0.0, 0.0])
                            total[0] += value[0]
                            total[1] += value[1]
                            server.figures[key] = total[0] / total[1]
                        elif isinstance(value, list):  # one of several timed calls: their median
                            taken = samples.setdefault((server.name, key), [])
                            taken.extend(value)
                            server.figures[key] = statistics.median(taken)
                        else:
                            server.figures[key] = value
                except StopIteration:
                    runs.remove((server, steps))
        floor = {k: v for k, v in null.figures.items() if k != "start-up s"}
        for server in servers[:-1]:
            results[server.name] = server.figures
            print(f"{server.name}: {json.dumps({k: round(v, 4) for k, v in server.figures.items()})}", flush=True)
        for (name, key), taken in samples.items():  # the calls behind each median, in the order taken
            print(f"{name}, {key} (median of {len(taken)}): {', '.join(f'{x:.4f}' for x in taken)}", flush=True)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(results, floor)
    print(json.dumps({"results": results, "client alone": floor}))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--null-server"]:
        _serve_null(int(sys.argv[2]))
    else:
        sys.exit(main())
