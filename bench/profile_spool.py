"""Where the SDK's `run.log` into a server workspace spends its time: py-spy on the client and the server.

    .venv/bin/pip install py-spy
    .venv/bin/python bench/profile_spool.py     # BENCH_SPOOL_POINTS=500000 by default
    PROFILE_SPOOL_DETAIL=1 .venv/bin/python bench/profile_spool.py    # also the heaviest functions

Starts `aml server` (SQLite), runs bench_spool's client loop (spool on) under `py-spy record`
while a second py-spy samples the server, then prints each process's heaviest functions
(inclusive, by line, by file), its threads' shares and each stage's share of the samples. Not run by `make bench` (it needs py-spy).
"""
from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_spool as bs  # noqa: E402
from profile_server import summarize  # noqa: E402


def threads(raw: Path) -> None:
    """Samples per thread (py-spy's raw format starts each stack with the thread's name)."""
    by_thread: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        by_thread[stack.split(";")[0]] += int(n)
        total += int(n)
    for name, n in by_thread.most_common():
        print(f"  {n / max(total, 1):6.1%}  {name}")


# Stages of the path, by the first frame (from the leaf up) that names one; what matches none is "other".
CLIENT_STAGES = [
    ("loop: run.log checks and tuple", "RunLoggingMixin.log ("),
    ("loop: queue (put_row)", "MetricsWriter.put_row"),
    ("writer: columns", "metric_columns"),
    ("writer: encode + write line", "Spool.append_metrics"),
    ("writer: fsync", "Spool.sync"),
    ("sender: read records", "Spool.records"),
    ("sender: ack file", "Spool.ack"),
    ("sender: HTTP request", "HttpClient.request"),
    ("checking the count (not timed)", "get_metrics"),
    ("start-up (imports, workspace, run)", "<module> (<string>"),
]
SERVER_STAGES = [
    ("checking the count (not timed)", "get_metrics ("),
    ("insert (store)", "SqlWorkspaceStore.log_metric_columns_once"),
    ("columns received", "_batch_columns"),
    ("parse + validate", "model_validate_json"),
    ("run check", "check_run_write"),
    ("endpoint, other", "log_metrics (azuremlcore/server/routes_workspace"),
    ("authentication", "authenticate"),
    ("FastAPI and Starlette layers", "fastapi/"),
    ("FastAPI and Starlette layers", "starlette/"),
    ("body limits (guard middleware)", "GuardMiddleware"),
    ("uvicorn (HTTP)", "uvicorn/"),
]


def stages(raw: Path, rules: list[tuple[str, str]]) -> None:
    """Samples per stage of the path (the deepest frame naming a stage decides)."""
    counts: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        label = "other (HTTP server, event loop, threads waiting)"
        for frame in reversed(frames):
            hit = next((name for name, marker in rules if marker in frame), None)
            if hit:
                label = hit
                break
        counts[label] += int(n)
        total += int(n)
    timed = total - counts["checking the count (not timed)"] - counts["start-up (imports, workspace, run)"]
    for name, n in counts.most_common():
        share = f"{n / timed:6.1%} of the timed part" if "not timed" not in name and "start-up" not in name else ""
        print(f"  {n:6d} samples  {share:24s} {name}")


def main() -> int:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    work = Path(tempfile.mkdtemp(prefix="profile-spool-"))
    proc, url, token = bs._server(work)
    server_raw, client_raw = work / "server.txt", work / "client.txt"
    try:
        requests.put(f"{url}/subscriptions/{bs.SUB}/resourceGroups/{bs.RG}/providers/"
                     f"Microsoft.MachineLearningServices/workspaces/{bs.WS}", json={"exist_ok": True},
                     headers={"Authorization": f"Bearer {token}"}).raise_for_status()
        env = dict(os.environ, AZUREMLCORE_HOME=str(work / "home"), AZUREMLCORE_ENDPOINT=url,
                   AZUREMLCORE_TOKEN=token, AZUREMLCORE_SPOOL="1")
        srv = subprocess.Popen([spy, "record", "--pid", str(proc.pid), "--rate", "200", "--format", "raw",
                                "--threads", "--output", str(server_raw), "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        out = subprocess.run([spy, "record", "--rate", "200", "--format", "raw", "--threads", "--nonblocking",
                              "--output", str(client_raw), "--", sys.executable, "-c", bs.CLIENT, str(bs.N_POINTS),
                              "0"],
                             env=env, capture_output=True, text=True, timeout=1800)
        print(out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-2000:])
        srv.send_signal(2)
        srv.wait(30)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    for name, raw, rules in (("CLIENT", client_raw, CLIENT_STAGES), ("SERVER", server_raw, SERVER_STAGES)):
        print(f"===== {name}: threads")
        threads(raw)
        print(f"===== {name}: stages")
        stages(raw, rules)
        if os.environ.get("PROFILE_SPOOL_DETAIL"):
            print(f"===== {name}")
            summarize(raw, top=30)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
