"""The workspace API answered in front of FastAPI (`server/_api_front.py`) against FastAPI's own path.

    .venv/bin/python bench/bench_workspace_api.py

Both answerers live in one server app (`create_app`): the front answers the workspace API's routes,
and with its route list emptied every request goes to the FastAPI app behind it, which has the same
routes, handlers and checks (the baseline, "FastAPI": how main answered these calls). In-process ASGI
calls, no sockets, so the figures are the server's own work per call.

- "first call": a fresh process runs `create_app` and sends one `PUT` workspace at once (as the SDK's
  `Workspace.create` does right after `/health`): with the front it loads its route modules then;
  through FastAPI it waits for FastAPI's import and build. `BENCH_WSAPI_STARTS` processes each.
- "per call": µs per call for a few of the SDK's calls, `BENCH_WSAPI_CALLS` calls a round,
  `BENCH_WSAPI_ROUNDS` rounds, the two answerers taking turns (order reversed every other round).
"""
from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ARM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w1"
STARTS = int(os.environ.get("BENCH_WSAPI_STARTS", "4"))
CALLS = int(os.environ.get("BENCH_WSAPI_CALLS", "300"))
ROUNDS = int(os.environ.get("BENCH_WSAPI_ROUNDS", "4"))


async def call(app: Any, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """One request through the whole app (guard included), as uvicorn would send it."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
               "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": headers,
               "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def first_call(through_fastapi: bool) -> float:
    """Seconds of a fresh process's first `PUT` workspace after `create_app` (run in this process)."""
    from azuremlcore.server import ServerConfig, create_app

    app = create_app(ServerConfig(data_dir=Path(tempfile.mkdtemp(prefix="bench-wsapi-")), open_access=True))
    if through_fastapi:
        app.workspace_front._routes = []
    start = time.perf_counter()
    status, _ = asyncio.run(call(app, "PUT", ARM, b"{}"))
    assert status == 200, status
    return time.perf_counter() - start


def per_call() -> dict[tuple[str, str], list[float]]:
    """µs per call of each case, by answerer, over the rounds."""
    from azuremlcore.server import ServerConfig, create_app

    app = create_app(ServerConfig(data_dir=Path(tempfile.mkdtemp(prefix="bench-wsapi-")), open_access=True))
    front = app.workspace_front
    rows = json.dumps({"run_id": "r1", "rows": [["m", "scalar", 1.0, None, i, 1] for i in range(10)]}).encode()
    cases = {"GET run": ("GET", ARM + "/runs/r1", b""),
             "PATCH run": ("PATCH", ARM + "/runs/r1", b'{"display_name": "x"}'),
             "POST metrics, 10 rows": ("POST", ARM + "/metrics", rows),
             "GET experiments": ("GET", ARM + "/experiments", b"")}
    out: dict[tuple[str, str], list[float]] = {}

    async def measure() -> None:
        await call(app, "PUT", ARM, b"{}")
        exp = json.loads((await call(app, "POST", ARM + "/experiments", b'{"name": "e"}'))[1])
        await call(app, "POST", ARM + "/runs", json.dumps({"id": "r1", "experiment_id": exp["id"]}).encode())
        app.deferred.built()
        front.load()
        routes = front._routes
        for r in range(ROUNDS):
            for who in ("front", "FastAPI") if r % 2 == 0 else ("FastAPI", "front"):
                front._routes = routes if who == "front" else []
                for name, (method, path, body) in cases.items():
                    await call(app, method, path, body)  # each route's first use (its checks built) left out
                    start = time.perf_counter()
                    for _ in range(CALLS):
                        status, _ = await call(app, method, path, body)
                        assert status in (200, 204), (name, who, status)
                    out.setdefault((name, who), []).append((time.perf_counter() - start) / CALLS * 1e6)
        front._routes = routes

    asyncio.run(measure())
    app.state.close()
    return out


def _range(values: list[float], unit: str, scale: float = 1.0) -> str:
    return f"{min(values) * scale:,.1f}–{max(values) * scale:,.1f} {unit} (median {statistics.median(values) * scale:,.1f})"


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--first-call":
        print(first_call(sys.argv[2] == "fastapi"))
        return
    firsts: dict[str, list[float]] = {"front": [], "FastAPI": []}
    for i in range(STARTS):
        for who in ("front", "FastAPI") if i % 2 == 0 else ("FastAPI", "front"):
            out = subprocess.run([sys.executable, __file__, "--first-call", "fastapi" if who == "FastAPI" else "front"],
                                 capture_output=True, text=True, check=True)
            firsts[who].append(float(out.stdout.split()[-1]))
    print(f"{STARTS} fresh processes each, then {ROUNDS} rounds of {CALLS} calls a case (baseline: FastAPI, "
          "the same routes and handlers behind the front)")
    print(f"first PUT workspace after create_app: front {_range(firsts['front'], 'ms', 1e3)}; "
          f"FastAPI {_range(firsts['FastAPI'], 'ms', 1e3)}; "
          f"ratio FastAPI / front {statistics.median(firsts['FastAPI']) / statistics.median(firsts['front']):.1f}x")
    results = per_call()
    for name in dict.fromkeys(n for n, _ in results):
        ours, theirs = results[(name, "front")], results[(name, "FastAPI")]
        print(f"{name:24s} front {_range(ours, 'µs')}; FastAPI {_range(theirs, 'µs')}; "
              f"ratio FastAPI / front {statistics.median(theirs) / statistics.median(ours):.2f}x")


if __name__ == "__main__":
    main()
