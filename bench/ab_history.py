"""The stock client's `get_metric_history` against aml servers of two trees and the do-nothing endpoint, interleaved.

By hand (not part of `make bench`): where the history's time goes on the client's path, page by page.
Each round reads the same 100k-point history through the stock MLflow client from every server in
turn (the order rotating each round), then the raw pages (bench_server's `_raw_history`). Per
page it records the client's wait for the answer (`requests.Session.send`: the server's work, the
transfer and requests reading the body) and, by difference, the client's own decoding (JSON,
protobuf, entities); per round the server's CPU (all threads, /proc) and the client's CPU.

  python bench/ab_history.py TREE_A [TREE_B ...]   each tree's own .venv/bin/python runs its server
Environment: AB_ROUNDS=10, AB_POINTS=100000, AB_POSTGRES_URL=postgresql://... (a database each),
AB_NULL=bench (bench_server's do-nothing endpoint, the default) or none, AB_OLD_NULL=<another tree's
bench_server.py> (its do-nothing endpoint beside), AB_RAW_ONLY=1 (the raw pages alone: quick rounds).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_server as bs  # noqa: E402

ROUNDS = int(os.environ.get("AB_ROUNDS", "10"))
POINTS = int(os.environ.get("AB_POINTS", "100000"))
PG = os.environ.get("AB_POSTGRES_URL")
RAW_ONLY = os.environ.get("AB_RAW_ONLY") == "1"  # only the raw pages (quick rounds), no do-nothing endpoint
_SENDS: list[float] = []
_orig_send = requests.Session.send


def _send(self: requests.Session, request: Any, **kw: Any) -> Any:
    t0 = time.perf_counter()
    r = _orig_send(self, request, **kw)
    _SENDS.append(time.perf_counter() - t0)
    return r


requests.Session.send = _send  # type: ignore[method-assign]


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu(pid: int) -> float:
    return sum(_cpu(p) for p in bs._tree(pid) if Path(f"/proc/{p}").exists())


def start_tree(tree: Path, work: Path, i: int) -> bs.Server:
    py = str(tree / ".venv" / "bin" / "python")
    aml = [py, "-m", "azuremlcore._cli.main"]
    data = work / f"aml{i}"
    db: list[str] = []
    if PG:
        name = f"ab_hist_{i}_{os.getpid()}"
        subprocess.run(["psql", PG, "-qc", f"CREATE DATABASE {name}"], check=True)
        db = ["--db", PG.rsplit("/", 1)[0] + "/" + name]
    token = subprocess.check_output(aml + ["token", "create", "--data-dir", str(data), *db, "--user", "bench",
                                           "--role", "Owner"], text=True, cwd=tree).strip()
    port = bs._port()
    base = f"http://127.0.0.1:{port}"
    server = bs._launch(f"{tree.name}#{i}", aml + ["server", "--data-dir", str(data), *db, "--port", str(port)],
                        base, base + bs.ARM, cwd=str(tree))
    server.token = token
    server.session().put(server.uri, json={"exist_ok": True}).raise_for_status()
    return server


def fill(server: bs.Server) -> str:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    _token(server)
    client = MlflowClient(tracking_uri=server.uri)
    if server.token is None:  # a do-nothing endpoint
        return "r"
    run_id = client.create_run(client.create_experiment(f"ab-{time.time_ns()}")).info.run_id
    now = int(time.time() * 1000)
    for first in range(0, POINTS, 1000):
        client.log_batch(run_id, metrics=[Metric("h", float(i), now + i, i) for i in range(first, first + 1000)])
    return run_id


def _token(server: bs.Server) -> None:
    if server.token:
        os.environ["MLFLOW_TRACKING_TOKEN"] = server.token
    else:
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)


def one(server: bs.Server, run_id: str) -> dict[str, Any]:
    from mlflow import MlflowClient

    _token(server)
    client = MlflowClient(tracking_uri=server.uri)
    _SENDS.clear()
    cpu0, ccpu0, t0 = _tree_cpu(server.proc.pid), time.process_time(), time.perf_counter()
    n = POINTS if RAW_ONLY else len(client.get_metric_history(run_id, "h"))
    total = time.perf_counter() - t0
    out: dict[str, Any] = {"history": total, "server cpu": _tree_cpu(server.proc.pid) - cpu0,
                           "client cpu": time.process_time() - ccpu0, "waits": list(_SENDS),
                           "decode": total - sum(_SENDS)}
    assert n == POINTS, n
    if server.token is not None:
        _SENDS.clear()
        t0 = time.perf_counter()
        assert len(bs._raw_history(server, run_id, "h")) == POINTS
        out["raw"] = time.perf_counter() - t0
        out["raw waits"] = list(_SENDS)
    return out


def main() -> int:
    trees = [Path(t).resolve() for t in sys.argv[1:]]
    work = Path(tempfile.mkdtemp(prefix="ab-history-"))
    servers = [start_tree(t, work, i) for i, t in enumerate(trees)]
    if os.environ.get("AB_NULL", "bench") != "none" and not RAW_ONLY:
        servers.append(bs.start_null(work))
    if os.environ.get("AB_OLD_NULL"):  # another tree's do-nothing endpoint (its bench_server.py), beside this one
        port = bs._port()
        base = f"http://127.0.0.1:{port}"
        servers.append(bs._launch("old null", [sys.executable, os.environ["AB_OLD_NULL"], "--null-server", str(port)],
                                  base, base))
    try:
        runs = {s.name: fill(s) for s in servers}
        for s in servers:  # warm: first read of each
            one(s, runs[s.name])
        results: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
        for r in range(ROUNDS):
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for s in order:
                results[s.name].append(one(s, runs[s.name]))
            print(f"round {r + 1}: " + "  ".join(f"{s.name} {results[s.name][-1]['history']:.3f}"
                                                 f"/{results[s.name][-1].get('raw', 0):.3f}" for s in servers),
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        summary(results)
        (work / "results.json").write_text(json.dumps(results))
        print("raw results:", work / "results.json")
    finally:
        for s in servers:
            s.stop()
    return 0


def _m(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f} ({min(xs):.3f}-{max(xs):.3f})"


def summary(results: dict[str, list[dict[str, Any]]]) -> None:
    null = [n for n in results if n == bs.NULL or n == "old null"]
    for name, rs in results.items():
        print(f"== {name}")
        print("  history s          ", _m([r["history"] for r in rs]))
        for nl in null:
            if name != nl:
                ratios = [n["history"] / r["history"] for r, n in zip(rs, results[nl])]
                print(f"  {nl} / this".ljust(21), _m(ratios))
        print("  client decode s    ", _m([r["decode"] for r in rs]))
        print("  client cpu s       ", _m([r["client cpu"] for r in rs]))
        print("  server cpu s       ", _m([r["server cpu"] for r in rs]))
        for p in range(len(rs[0]["waits"])):
            print(f"  wait page {p + 1} ms     ", _m([1000 * r["waits"][p] for r in rs if len(r["waits"]) > p]))
        if "raw" in rs[0]:
            print("  raw pages s        ", _m([r["raw"] for r in rs]))
            for p in range(len(rs[0]["raw waits"])):
                print(f"  raw wait {p + 1} ms      ", _m([1000 * r["raw waits"][p] for r in rs]))


if __name__ == "__main__":
    sys.exit(main())
