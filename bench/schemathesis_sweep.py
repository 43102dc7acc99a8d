"""A wide schemathesis sweep of the workspace server, by hand: requests, 5xx answers and distinct failures.

    .venv/bin/python bench/schemathesis_sweep.py [--max-examples 100] [--seed 1] [--max-time 600]

Starts a server on SQLite in a temporary folder (in this process, with a counter around the app),
creates a workspace, an experiment and a run so generated requests reach real objects, runs
`st run` against the served OpenAPI document (workspace API and MLflow routes) and prints the
server's own count of requests, of 5xx answers, and the distinct failures behind them (exception
type and the line of our code that raised it). The test suite runs a small bounded version
(tests/test_server_fuzz.py); this is the wide one whose figures docs/server.md quotes.
"""
from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

SUB, RG, WS = "s1", "rg", "ws1"


class _Counter:
    """ASGI wrapper counting answers by status."""

    def __init__(self, app: Any) -> None:
        self.app, self.statuses = app, collections.Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counting_send)


class _Failures(logging.Handler):
    """Distinct server errors: exception type and the innermost frame in azuremlcore."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: collections.Counter[str] = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if not record.exc_info:
            return
        exc = record.exc_info[1]
        frames = [f for f in traceback.extract_tb(record.exc_info[2]) if "azuremlcore" in f.filename]
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        self.seen[f"{type(exc).__name__} at {where}"] += 1


def main() -> int:
    """Run one sweep and print its figures (also as JSON on the last line)."""
    p = argparse.ArgumentParser()
    p.add_argument("--max-examples", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-time", type=int, default=900)
    p.add_argument("--workers", type=int, default=1)
    a = p.parse_args()

    import uvicorn

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest_server import free_port

    from azuremlcore.server import ServerConfig, create_app

    tmp = Path(tempfile.mkdtemp(prefix="aml-sweep-"))
    os.environ["AZUREMLCORE_HOME"] = str(tmp / "home")
    app = create_app(ServerConfig(data_dir=tmp / "server"))
    state = app.state  # type: ignore[attr-defined]
    failures = _Failures()
    logging.getLogger("azuremlcore.server").addHandler(failures)
    counter = _Counter(app)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(counter, host="127.0.0.1", port=port, log_level="critical",
                                           lifespan="on", access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    token = state.identity.create_user_token("fuzzer")
    state.identity.grant("user:fuzzer", "/", "Owner")
    url = f"http://127.0.0.1:{port}"
    import requests

    h = {"Authorization": f"Bearer {token}"}
    base = f"{url}/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"
    requests.put(base, json={}, headers=h).raise_for_status()
    exp = requests.post(base + "/experiments", json={"name": "exp"}, headers=h).json()
    requests.post(base + "/runs", json={"id": "run1", "experiment_id": exp["id"]}, headers=h).raise_for_status()
    config = tmp / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.sub" = "{SUB}"\n"path.rg" = "{RG}"\n"path.ws" = "{WS}"\n')
    report = tmp / "report.json"
    st = str(Path(sys.executable).with_name("st"))
    cmd = [st, "--config-file", str(config), "run", f"{url}/openapi.json", "-H", f"Authorization: Bearer {token}",
           "--seed", str(a.seed), "-n", str(a.max_examples), "--max-time", str(a.max_time), "-w", str(a.workers),
           "--checks", "all", "--exclude-checks", "ignored_auth,positive_data_acceptance",
           "--report", "json", "--report-json-path", str(report), "--no-shrink", "--suppress-health-check", "all"]
    started = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True)
    took = time.monotonic() - started
    server.should_exit = True
    figures: dict[str, Any] = {"requests": sum(counter.statuses.values()),
                               "server_errors": sum(n for s, n in counter.statuses.items() if s >= 500),
                               "distinct_server_failures": len(failures.seen), "seconds": round(took, 1),
                               "statuses": dict(sorted(counter.statuses.items()))}
    try:
        rep = json.loads(report.read_text())
        figures["schemathesis_failures"] = {f["title"]: f["count"] for f in rep.get("failures", [])}
    except (OSError, ValueError):
        figures["schemathesis_output_tail"] = out.stdout[-3000:]
    for what, n in failures.seen.most_common():
        print(f"{n:6d}  {what}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
