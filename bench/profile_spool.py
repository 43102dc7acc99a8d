"""Where the SDK's `run.log` into a server workspace spends its time: py-spy on the client and the server.

    .venv/bin/pip install py-spy
    .venv/bin/python bench/profile_spool.py            # BENCH_SPOOL_POINTS=200000 by default

Starts `aml server` (SQLite), runs bench_spool's client loop (spool on) under `py-spy record`
while a second py-spy samples the server, then prints each process's heaviest functions
(inclusive, by line, by file) and its threads' shares. Not run by `make bench` (it needs py-spy).
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
                              "--output", str(client_raw), "--", sys.executable, "-c", bs.CLIENT, str(bs.N_POINTS)],
                             env=env, capture_output=True, text=True, timeout=1800)
        print(out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-2000:])
        srv.send_signal(2)
        srv.wait(30)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    for name, raw in (("CLIENT", client_raw), ("SERVER", server_raw)):
        print(f"===== {name}: threads")
        threads(raw)
        print(f"===== {name}")
        summarize(raw, top=30)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
