"""The web view in headless Chromium at scale: how long pages take to be usable, against the raw API JSON.

Data (written straight into the server's database before it starts, so filling is quick):
an experiment of 1,000 runs (params, 3 metrics of 20 steps each); one run with 100 metrics of
100,000 steps each (10 million points); 200 runs of 1,000 steps each to compare.

Measured with Debian's chromium driven by Playwright, signed in, against `aml server` in a subprocess:
- runs table: navigation start until the DOM is complete (1,000 runs, first page of 50 rendered);
- run page: navigation start until every chart in view is drawn (uPlot canvases, downsampled series);
- compare: navigation start until the overlay of 200 runs and the scatter are drawn.
Baseline ("raw JSON"), measured in the same run with `requests`: the API answer a page without server-side
paging and downsampling would need: the experiment's runs (`GET .../runs`), one metric's full history
(`POST .../metrics/query`, 100k points; the run page shows ~6 such charts in view), and the compared
metric of the 200 runs. Ratio = raw JSON time / page time (above 1: the page is usable sooner than the
data alone would arrive). Target: each page under 1 s. BENCH_WEB_SCALE=0.1 for a quick run.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

SCALE = float(os.environ.get("BENCH_WEB_SCALE", "1"))
N_RUNS = int(1000 * SCALE)
N_KEYS = max(1, int(100 * SCALE))
N_STEPS = int(100_000 * SCALE)
N_COMPARE = int(200 * SCALE) or 2
COMPARE_STEPS = 1000
ARM = "/subscriptions/bench/resourceGroups/bench/providers/Microsoft.MachineLearningServices/workspaces/bench"


def _fill(data_dir: Path) -> dict[str, object]:
    from azuremlcore._store.records import RunRecord, WorkspaceRecord
    from azuremlcore._store.sql import SqlWorkspaceStore

    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / "workspaces.db"
    store = SqlWorkspaceStore(f"sqlite:///{db}")
    ws = store.create_workspace(WorkspaceRecord(id="", subscription_id="bench", resource_group="bench", name="bench"))
    now = int(time.time() * 1000)

    def runs(exp_id: str, n: int, prefix: str) -> list[str]:
        ids = []
        for i in range(n):
            rec = store.create_run(RunRecord(id=f"{prefix}_{i}_{uuid.uuid4().hex[:6]}", workspace_id=ws.id,
                                             experiment_id=exp_id, status="Completed", created_time=now + i,
                                             start_time=now + i, end_time=now + i + 60_000,
                                             params={"lr": f"{0.001 * (i % 50 + 1):.3f}", "depth": str(2 + i % 6)},
                                             tags={"sweep": "grid"}))
            ids.append(rec.id)
        return ids

    table_ids = runs(store.create_experiment(ws.id, "thousand").id, N_RUNS, "t")
    big_exp = store.create_experiment(ws.id, "big")
    big = runs(big_exp.id, 1, "big")[0]
    compare_ids = runs(store.create_experiment(ws.id, "compare").id, N_COMPARE, "c")
    store.close()
    con = sqlite3.connect(db)
    # Points are keyed by (series, id); ids continue the store's counter (set past the last one at the end).
    ids = itertools.count(con.execute("SELECT last_id FROM metric_id_counter").fetchone()[0] + 1)
    sql = ('INSERT INTO metrics (id, series_id, kind, "value", is_nan, value_json, step, "timestamp") '
           'VALUES (?, ?, ?, ?, 0, NULL, ?, ?)')

    def series(run_id: str, key: str) -> int:
        """The id of a new (run, key) series: points are keyed by it."""
        return con.execute('INSERT INTO metric_series (run_id, "key") VALUES (?, ?) RETURNING id',
                           (run_id, key)).fetchone()[0]

    with con:
        for j, r in enumerate(table_ids):
            for k in ("loss", "acc", "f1"):
                sid = series(r, k)
                con.executemany(sql, ((next(ids), sid, "scalar", 1 / (s + 1) + j * 0.01, s, now + s) for s in range(20)))
        for j, r in enumerate(compare_ids):
            sid = series(r, "loss")
            con.executemany(sql, ((next(ids), sid, "scalar", 1 / (s + 1) + j * 0.001 + 0.01 * math.sin(s), s,
                                   now + s * 10) for s in range(COMPARE_STEPS)))
    for k in range(N_KEYS):  # 10 million points: one transaction per key
        with con:
            sid = series(big, f"m{k:03d}")
            con.executemany(sql, ((next(ids), sid, "scalar", math.sin(s / 500 + k) + 0.1 * ((s * 7919) % 13),
                                   s, now + s * 10) for s in range(N_STEPS)))
    with con:
        con.execute("UPDATE metric_id_counter SET last_id = ?", (next(ids) - 1,))
    con.close()
    return {"ws": ws.id, "big": big, "compare": compare_ids}


def _timed_get(session: requests.Session, method: str, url: str, **kw: object) -> float:
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        r = session.request(method, url, **kw)  # type: ignore[arg-type]
        r.raise_for_status()
        _ = r.content
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    from browser_support import ServerProcess, chromium_or_reason, open_browser

    chromium, why = chromium_or_reason()
    if chromium is None:
        print(f"skipped: {why}")
        return 0
    from playwright.sync_api import sync_playwright

    reuse = os.environ.get("BENCH_WEB_DATA")  # a folder a run with BENCH_WEB_KEEP=1 left: no refill
    tmp = Path(reuse) if reuse else Path(tempfile.mkdtemp(prefix="bench-web-"))
    t0 = time.perf_counter()
    if reuse:
        info = json.loads((tmp / "info.json").read_text())
    else:
        info = _fill(tmp / "server")
        (tmp / "info.json").write_text(json.dumps(info))
    print(f"filled {N_RUNS} runs, {N_KEYS} x {N_STEPS:,} points, {N_COMPARE} x {COMPARE_STEPS} in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    server = ServerProcess(tmp / "server")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {server.token}"
    ws_id = str(info["ws"])
    exps = {e["name"]: e["id"] for e in api.get(server.url + ARM + "/experiments").json()}
    results: list[tuple[str, tuple[float, float], float, str]] = []
    try:
        with sync_playwright() as p:
            browser, context, watch = open_browser(p, chromium, server.url)
            page = context.new_page()
            page.goto(f"{server.url}/login")
            page.fill("#token", server.token)
            page.click("#token-submit")
            page.wait_for_url("**/ui/workspaces")

            def measure(url: str, ready: str) -> tuple[float, float]:
                # (first open, best of two more): the server caches nothing, the browser only the static files.
                times = []
                for _ in range(3):
                    page.goto("about:blank")
                    page.goto(url, wait_until="commit")
                    page.wait_for_function(ready, timeout=60_000, polling=10)
                    times.append(page.evaluate("performance.now()") / 1000)
                return times[0], min(times[1:])

            table = measure(f"{server.url}/ui/workspaces/{ws_id}/experiments/{exps['thousand']}",
                            "document.readyState === 'complete' && document.querySelectorAll('#runs tbody tr').length > 0")
            raw = _timed_get(api, "GET", server.url + ARM + "/runs", params={"experiment_ids": exps["thousand"]})
            results.append((f"runs table, {N_RUNS} runs", table, raw, "GET runs (JSON)"))

            charts_ready = ("document.readyState === 'complete' && (() => { const v = [...document.querySelectorAll("
                            "'.chart[data-visible]')]; return v.length > 0 && v.every(c => c.dataset.drawn); })()")
            run_page = measure(f"{server.url}/ui/workspaces/{ws_id}/runs/{info['big']}", charts_ready)
            in_view = page.evaluate("document.querySelectorAll('.chart[data-visible]').length")
            raw = _timed_get(api, "POST", server.url + ARM + "/metrics/query", json={"run_ids": [info["big"]], "key": "m000"})
            results.append((f"run page, {N_KEYS} x {N_STEPS:,} points ({in_view} charts in view)", run_page, raw,
                            "one metric's full history (JSON)"))

            ids = list(info["compare"])  # type: ignore[call-overload]
            compare = measure(f"{server.url}/ui/workspaces/{ws_id}/compare?runs={','.join(ids)}&metric=loss&param=lr",
                              "document.readyState === 'complete' && !!document.querySelector('.chart.overlay[data-drawn]')"
                              " && document.querySelectorAll('#scatter circle').length > 0")
            raw = _timed_get(api, "POST", server.url + ARM + "/metrics/query", json={"run_ids": ids, "key": "loss"})
            results.append((f"compare {N_COMPARE} runs x {COMPARE_STEPS} steps", compare, raw, "their histories (JSON)"))
            # Responsive: a hover over the 200-run overlay moves uPlot's cursor; time 20 moves.
            box = page.locator(".chart.overlay canvas").first.bounding_box()
            t1 = time.perf_counter()
            for i in range(20):
                page.mouse.move(box["x"] + 10 + i * (box["width"] - 20) / 20, box["y"] + box["height"] / 2)
            hover_ms = (time.perf_counter() - t1) / 20 * 1000
            watch.check()
            browser.close()
    finally:
        server.stop()
    print(f"\n{'page':<58}{'first s':>8}{'again s':>8}{'raw JSON s':>11}{'ratio':>7}  baseline (ratio: raw / again)")
    for name, (first, again), raw, what in results:
        print(f"{name:<58}{first:>8.3f}{again:>8.3f}{raw:>11.3f}{raw / again:>7.2f}  {what}")
    print(f"compare: one cursor move over the {N_COMPARE}-run overlay takes {hover_ms:.1f} ms (responsive under 50 ms)")
    if os.environ.get("BENCH_WEB_KEEP") or reuse:
        print(f"data kept in {tmp} (BENCH_WEB_DATA={tmp} reuses it)")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    slow = [name for name, (first, again), _, _ in results if again >= 1.0]
    print("all pages under 1 s" if not slow else f"OVER 1 s: {', '.join(slow)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
