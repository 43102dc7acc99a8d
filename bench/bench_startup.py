"""`aml server` start-up, A/B between source trees: time and CPU until /health, the first calls, idle memory.

    .venv/bin/python bench/bench_startup.py [REPS] [NAME=SOURCE_DIR ...]

By hand, not part of `make bench`. Each repetition starts `aml server` once per source tree (this
venv's Python with PYTHONPATH=SOURCE_DIR, run from a fresh folder so the tree's package is the one
imported), in a fresh data dir, order reversed every other repetition, and prints ranges and
medians of: seconds until `/health` answers; the server's CPU seconds by then (steadier than wall
time on a shared machine); the first calls of each kind right after (workspace PUT and GET as
`Workspace.get` makes them, MLflow `experiments/create`, experiments list, create experiment and
run); the process's PSS 2 s after start. Without NAME=SOURCE_DIR it measures this checkout alone.
A baseline tree: `git worktree add --detach /tmp/aml-base <commit>`, then `base=/tmp/aml-base`.

Each tree's package is byte-compiled first (`compileall`), as an installed package is: with
PYTHONDONTWRITEBYTECODE set (as in this project's containers) a source tree is otherwise compiled
again at every start, 0.07 s of CPU of the server's start-up (measured) that no installed server pays.

Environment: BENCH_STARTUP_FRESH=1 starts on a new data dir (no token made first, no calls: the
first start of a folder); BENCH_STARTUP_ARGS adds `aml server` arguments (`--api-when-quiet`;
`--db postgresql+psycopg://...` for PostgreSQL: every start then uses that one database, its token made
there too, names made unique per start); BENCH_STARTUP_WAIT=S waits S seconds after /health before the
first calls.
"""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import requests

ARM = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pss_mib(pid: int, field: str = "Pss") -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_once(source: str, fresh: bool) -> dict[str, float]:
    """One start of `aml server` from source; its figures."""
    env = dict(os.environ, PYTHONPATH=source)
    folder = tempfile.mkdtemp(prefix="bench-startup-")
    aml = [sys.executable, "-m", "azuremlcore._cli.main"]
    extra = os.environ.get("BENCH_STARTUP_ARGS", "").split()
    db = extra[extra.index("--db"):extra.index("--db") + 2] if "--db" in extra else []  # the token goes there too
    token = None if fresh else subprocess.check_output(
        aml + ["token", "create", "--data-dir", folder, *db, "--user", "b", "--role", "Owner"], env=env, cwd=folder,
        text=True).strip()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    unique = os.path.basename(folder)
    t0 = time.perf_counter()
    proc = subprocess.Popen(aml + ["server", "--data-dir", folder, "--port", str(port), *extra], env=env, cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        session = requests.Session()
        while True:
            try:
                session.get(base + "/health", timeout=1)
                break
            except requests.ConnectionError:
                if proc.poll() is not None:
                    raise RuntimeError(f"aml server from {source} exited with {proc.returncode}")
                time.sleep(0.003)
        out = {"start s": time.perf_counter() - t0, "CPU s": _cpu_s(proc.pid)}
        if token:
            session.headers["Authorization"] = f"Bearer {token}"
            time.sleep(float(os.environ.get("BENCH_STARTUP_WAIT", "0")))

            def timed(name: str, call: Callable[[], requests.Response]) -> requests.Response:
                t1 = time.perf_counter()
                response = call()
                out[name] = time.perf_counter() - t1
                response.raise_for_status()
                return response

            timed("PUT ws s", lambda: session.put(base + ARM, json={"exist_ok": True}))
            timed("GET ws s", lambda: session.get(base + ARM))
            timed("mlflow create s", lambda: session.post(base + ARM + "/api/2.0/mlflow/experiments/create",
                                                          json={"name": "e1-" + unique}))
            timed("list exps s", lambda: session.get(base + ARM + "/experiments"))
            exp = timed("create exp s", lambda: session.post(base + ARM + "/experiments",
                                                             json={"name": "e2-" + unique})).json()
            timed("create run s", lambda: session.post(base + ARM + "/runs", json={"id": "r1-" + unique,
                                                                                     "experiment_id": exp["id"]}))
        time.sleep(max(0.0, 2 - (time.perf_counter() - t0 - out["start s"])))
        out["idle PSS MiB"] = _pss_mib(proc.pid)
        # The private part: PSS's shared part moves with whatever else maps the same libraries on the machine.
        out["idle anon MiB"] = _pss_mib(proc.pid, "Pss_Anon")
        return out
    finally:
        proc.terminate()
        proc.wait(15)


def main() -> int:
    args = sys.argv[1:]
    reps = int(args.pop(0)) if args and args[0].isdigit() else 3
    trees = [a.split("=", 1) for a in args] or [["this checkout", str(Path(__file__).resolve().parents[1])]]
    fresh = os.environ.get("BENCH_STARTUP_FRESH") == "1"
    for _, source in trees:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(source) / "azuremlcore")], check=True,
                       stdout=subprocess.DEVNULL)
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in trees}
    for i in range(reps):
        for name, source in (trees if i % 2 == 0 else trees[::-1]):
            results[name].append(start_once(source, fresh))
    for name, rows in results.items():
        print(f"{name}:")
        for key in rows[0]:
            values = [r[key] for r in rows]
            print(f"  {key:16s} {min(values):8.3f} - {max(values):8.3f}  (median {statistics.median(values):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
