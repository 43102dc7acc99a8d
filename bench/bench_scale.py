"""Scale of `aml server` (slow, by hand): history of one key and filtered search as a workspace grows.

    .venv/bin/python bench/bench_scale.py                       # reduced: 1M points / 1k runs, 10k search runs
    BENCH_SCALE=1 .venv/bin/python bench/bench_scale.py         # the issue's sizes: 10M points / 10k runs, 100k runs
    BENCH_SERVER_POSTGRES_URL=postgresql://... python bench/bench_scale.py   # the same on PostgreSQL
    BENCH_ONLY=scale make bench                                 # through run_all

`make bench` leaves it out unless BENCH_ONLY names it: at full size it fills a multi-GB database
and runs for tens of minutes.

Two workspaces, filled in stages straight through the store (bulk inserts; what is measured is
reading), each stage measured through the running server over HTTP with a bearer token:

* history: one run holds one key of 100k points (`h`); around it, runs with 1,000 points each
  (5 keys) are added until the workspace holds 10M points in 10k runs. Measured at each stage:
  the 100k history as raw HTTP pages (4 pages of 25,000), best of 3. Flat = the same at every stage.
* search: runs with 5 params and 5 metrics each are added until one experiment holds 100k runs.
  Measured at each stage: `metrics.m0 > 0.5 and params.p1 = 'b'` ordered by `metrics.m2 DESC`,
  one page of 100 runs and one of 1,000 (raw HTTP, best of 3), and the SQL query plan.
"""
from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_server as b  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "0.1"))
TOTAL_POINTS = int(10_000_000 * SCALE)
SEARCH_RUNS = int(100_000 * SCALE)
HISTORY = 100_000
STAGES = (0.1, 0.3, 1.0)


def _store(work: Path, db: str | None) -> Any:
    from azuremlcore._store.sql import SqlWorkspaceStore
    from azuremlcore.server.config import ServerConfig

    return SqlWorkspaceStore(ServerConfig(data_dir=work / "aml", db_url=db).database_url)


def _bulk_runs(store: Any, ws_id: str, exp_id: str, n: int, start: int, with_values: bool, points_per_run: int,
               rng: random.Random) -> list[str]:
    """Insert n runs (and their params and metrics) in one transaction per 2,000 runs."""
    import sqlalchemy as sa

    from azuremlcore._store import schema as t

    ids: list[str] = []
    now = int(time.time() * 1000)
    for chunk in range(0, n, 2000):
        runs, attrs, points, latest = [], [], [], []
        for i in range(chunk, min(n, chunk + 2000)):
            rid = uuid.uuid4().hex
            ids.append(rid)
            number = start + i + 1
            runs.append({"id": rid, "workspace_id": ws_id, "experiment_id": exp_id, "number": number,
                         "type": "azureml.interactive", "display_name": f"run-{number}", "status": "Completed",
                         "created_time": now + number, "start_time": now + number, "lifecycle_stage": "active",
                         "details_json": "{}"})
            attrs.append({"run_id": rid, "kind": "tag", "key": "mlflow.user", "value": "bench"})
            if with_values:
                attrs.extend({"run_id": rid, "kind": "param", "key": f"p{j}", "value": "abc"[(i + j) % 3]}
                             for j in range(5))
                values = [{"run_id": rid, "key": f"m{j}", "kind": "scalar", "value": rng.random(), "is_nan": False,
                           "value_json": None, "step": 0, "timestamp": now} for j in range(5)]
                points.extend(values)
                # What the store's metric writes keep (one point per key here, so it is the latest).
                latest.extend(dict(v, experiment_id=exp_id) for v in values)
            per_key = points_per_run // 5
            for j in range(5 if per_key else 0):
                points.extend({"run_id": rid, "key": f"k{j}", "kind": "scalar", "value": float(s), "is_nan": False,
                               "value_json": None, "step": s, "timestamp": now + s} for s in range(per_key))
        with store._engine.begin() as conn:
            conn.execute(t.runs.insert(), runs)
            conn.execute(t.run_attributes.insert(), attrs)
            if points:  # points are keyed by their (run, key) series' id
                pairs = sorted({(p["run_id"], p["key"]) for p in points})
                conn.execute(sa.insert(t.metric_series), [{"run_id": r, "key": k} for r, k in pairs])
                ms = t.metric_series.c
                sid = {(r.run_id, r.key): r.id for r in conn.execute(sa.select(ms.id, ms.run_id, ms.key).where(
                    ms.run_id.in_(sorted({r for r, _ in pairs}))))}
                conn.execute(sa.insert(t.metrics), [
                    {"series_id": sid[p["run_id"], p["key"]], **{c: p[c] for c in p if c not in ("run_id", "key")}}
                    for p in points])
            if latest:
                conn.execute(sa.insert(t.latest_metrics), latest)
    return ids


def _best(fn: Any, n: int = 3) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _plan(store: Any, ws_id: str, exp_id: str) -> str:
    """EXPLAIN QUERY PLAN of the statements the search runs (captured as the store executes them)."""
    from sqlalchemy import event

    from azuremlcore.server import _mlflow_search as grammar

    if store._engine.dialect.name != "sqlite":
        return "    (SQLite only; on PostgreSQL use EXPLAIN on the statements of SQLAlchemy's echo)"
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))
    event.listen(store._engine, "before_cursor_execute", capture)
    try:
        store.find_runs(ws_id, [exp_id], "active", grammar.parse_filter(b.SEARCH_FILTER),
                        grammar.parse_order_by(b.SEARCH_ORDER), 100)
    finally:
        event.remove(store._engine, "before_cursor_execute", capture)
    out = []
    with store._engine.connect() as conn:
        for statement, parameters in seen:
            out.append("  statement:")
            out.extend("    " + str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                             parameters))
    return "\n".join(out)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    print(f"scale {SCALE}: history workspace up to {TOTAL_POINTS:,} points in {TOTAL_POINTS // 1000:,} runs; "
          f"search over up to {SEARCH_RUNS:,} runs; {'PostgreSQL' if b.POSTGRES else 'SQLite'}", flush=True)
    db = b._pg_database("bench_aml") if b.POSTGRES else None
    server = b.start_aml(work, db)
    store = _store(work, db)
    try:
        from mlflow import MlflowClient

        os.environ["MLFLOW_TRACKING_TOKEN"] = server.token or ""
        client = MlflowClient(tracking_uri=server.uri)
        ws_id = store.find_workspace("bench", "bench", "bench")[0].id
        rng = random.Random(3)
        # History: one run with 100k points of one key, then the workspace grows around it.
        hist_exp = client.create_experiment("history")
        target = client.create_run(hist_exp).info.run_id
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        for s in range(0, HISTORY, 1000):
            client.log_batch(target, metrics=[Metric("h", float(i), now + i, i) for i in range(s, s + 1000)])
        made_runs, made_points = 1, HISTORY
        print(f"{'points in workspace':>20} {'runs':>8} {'history 100k, raw HTTP s':>26}", flush=True)
        for stage in STAGES:
            want = int(TOTAL_POINTS * stage)
            if want > made_points:
                n = (want - made_points) // 1000
                _bulk_runs(store, ws_id, hist_exp, n, made_runs, False, 1000, rng)
                made_runs += n
                made_points += n * 1000
            dt = _best(lambda: b._raw_history(server, target, "h"))
            print(f"{made_points:20,} {made_runs:8,} {dt:26.3f}", flush=True)
        # Search: one experiment grows to SEARCH_RUNS runs with 5 params and 5 metrics each.
        search_exp = client.create_experiment("search")
        session, made = server.session(), 0
        print(f"{'runs in experiment':>20} {'search, page of 100 s':>22} {'page of 1,000 s':>16} {'found':>7}",
              flush=True)
        for stage in STAGES:
            want = int(SEARCH_RUNS * stage)
            if want > made:
                _bulk_runs(store, ws_id, search_exp, want - made, made, True, 0, rng)
                made = want
            found: list = []

            def search(limit: int) -> None:
                r = session.post(f"{server.uri}/api/2.0/mlflow/runs/search", json={
                    "experiment_ids": [search_exp], "filter": b.SEARCH_FILTER, "order_by": b.SEARCH_ORDER,
                    "max_results": limit})
                r.raise_for_status()
                found[:] = r.json().get("runs", [])
            small, large = _best(lambda: search(100)), _best(lambda: search(1000))
            print(f"{made:20,} {small:22.3f} {large:16.3f} {len(found):7}", flush=True)
        print("query plan of the search (SQLite):")
        print(_plan(store, ws_id, search_exp))
    finally:
        server.stop()
        store.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
