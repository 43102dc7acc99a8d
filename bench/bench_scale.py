"""Scale of `aml server` (slow, by hand): history of one key and run searches as a workspace grows.

    .venv/bin/python bench/bench_scale.py                       # reduced: 1M points / 1k runs, 10k search runs
    BENCH_SCALE=1 .venv/bin/python bench/bench_scale.py         # the issue's sizes: 10M points / 10k runs, 100k runs
    BENCH_SCALE=1 BENCH_SCALE_PART=search .venv/bin/python bench/bench_scale.py   # the searches alone (minutes)
    BENCH_SERVER_POSTGRES_URL=postgresql://... python bench/bench_scale.py   # the same on PostgreSQL
    BENCH_ONLY=scale make bench                                 # through run_all

`make bench` leaves it out unless BENCH_ONLY names it: at full size the history part fills a
multi-GB database and runs for tens of minutes. `BENCH_SCALE_PART` picks `history`, `search` or
both (the default, `history,search`); `BENCH_SCALE_SEARCH_RUNS=1000,10000,100000` sets the
search stages (default: 1%, 10% and 100% of 100k runs times BENCH_SCALE).

Two workspaces, filled in stages straight through the store (what is measured is reading), each
stage measured through the running server over HTTP with a bearer token:

* history: one run holds one key of 100k points (`h`); around it, runs with 1,000 points each
  (5 keys, written by the store's own `log_metrics`) are added until the workspace holds 10M
  points in 10k runs. Measured at each stage: the 100k history as raw HTTP pages (4 pages of
  25,000) and the store's part alone (`metric_history_page`, in this process), best of 5; and the
  fill's rate (runs and points through the store). Flat = the same at every stage.
* search: runs with 5 params, 2 tags and 5 metrics each are bulk-inserted (driver-level
  executemany on SQLite, COPY on PostgreSQL: runs, their attributes and `latest_metrics`, the
  rows searches read) until one experiment holds 100k runs. Measured at each stage, for each
  search of SEARCHES (the bench's filtered search ordered by a metric, MLflow's default order,
  filters on params, status and tags, orders by a param and by start time): a page of 100 runs
  and one of 1,000 through raw HTTP (best of 3), the store's part alone (`find_runs`, page of
  100, in this process), and the answer checked against the same search done in Python over what
  was inserted. Then the query plans of the last stage (`EXPLAIN QUERY PLAN` on SQLite,
  `EXPLAIN (ANALYZE, COSTS OFF)` on PostgreSQL).
"""
from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_server as b  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "0.1"))
PARTS = {p.strip() for p in os.environ.get("BENCH_SCALE_PART", "history,search").split(",") if p.strip()}
TOTAL_POINTS = int(10_000_000 * SCALE)
SEARCH_RUNS = int(100_000 * SCALE)
HISTORY = 100_000
STAGES = (0.1, 0.3, 1.0)
SEARCH_STAGES = [int(x) for x in os.environ.get("BENCH_SCALE_SEARCH_RUNS", "").split(",") if x.strip()] or \
    [max(10, int(SEARCH_RUNS * f)) for f in (0.01, 0.1, 1.0)]
TEAMS = 10  # tags.team takes one of t0..t9

# (label, filter, order_by): what users and the MLflow UI ask of one experiment.
SEARCHES = [
    ("bench: m0 > 0.5, p1 = b; by m2 DESC", b.SEARCH_FILTER, b.SEARCH_ORDER),
    ("no filter; default order", "", []),
    ("p1 = b; default order", "params.p1 = 'b'", []),
    ("status = FINISHED; default order", "attributes.status = 'FINISHED'", []),
    ("tag team = t3; default order", "tags.team = 't3'", []),
    ("m0 > 0.99 (1%); default order", "metrics.m0 > 0.99", []),
    ("no filter; by p2 ASC", "", ["params.p2 ASC"]),
    ("no filter; by tag team DESC", "", ["tags.team DESC"]),
    ("m0 > 0.5; by p2 ASC, m1 DESC", "metrics.m0 > 0.5", ["params.p2 ASC", "metrics.m1 DESC"]),
    ("no filter; by start_time ASC", "", ["attributes.start_time ASC"]),
    ("no filter; by m3 ASC", "", ["metrics.m3 ASC"]),
]


@dataclass
class _Made:
    """What the search fill inserted for one run: the expected answers are computed from these."""

    start: int
    status: str
    params: dict[str, str]
    tags: dict[str, str]
    metrics: list[float] = field(default_factory=list)


def _store(work: Path, db: str | None) -> Any:
    from azuremlcore._store.sql import SqlWorkspaceStore
    from azuremlcore.server.config import ServerConfig

    return SqlWorkspaceStore(ServerConfig(data_dir=work / "aml", db_url=db).database_url)


_COLUMNS = {
    "runs": ("id", "workspace_id", "experiment_id", "number", "type", "display_name", "status", "created_time",
             "start_time", "lifecycle_stage", "details_json"),
    "run_attributes": ("run_id", "kind", "key", "value"),
    "latest_metrics": ("run_id", "key", "experiment_id", "kind", "value", "is_nan", "value_json", "step",
                       "timestamp"),
}


def _bulk_insert(store: Any, rows: dict[str, list[tuple]]) -> None:
    """Rows into tables in one transaction, driver-level: COPY on PostgreSQL, executemany of tuples on SQLite."""
    with store._engine.begin() as conn:
        cur = conn.connection.driver_connection.cursor()
        try:
            for table, values in rows.items():
                if not values:
                    continue
                names = ", ".join(f'"{c}"' for c in _COLUMNS[table])
                if store._engine.dialect.name == "sqlite":
                    cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(_COLUMNS[table]))})",
                                    values)
                else:
                    with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                        for row in values:
                            copy.write_row(row)
        finally:
            cur.close()


def _fill_runs(store: Any, ws_id: str, exp_id: str, n: int, start: int, rng: random.Random,
               made: dict[str, _Made] | None) -> list[str]:
    """Insert n runs, 5,000 a transaction; with `made`, each with 5 params, 2 tags and 5 latest metrics, recorded."""
    ids: list[str] = []
    now = int(time.time() * 1000)
    for chunk in range(0, n, 5000):
        rows: dict[str, list[tuple]] = {"runs": [], "run_attributes": [], "latest_metrics": []}
        for i in range(chunk, min(n, chunk + 5000)):
            rid = uuid.uuid4().hex
            ids.append(rid)
            number = start + i + 1
            status = "Failed" if rng.random() < 0.1 else "Completed"
            rows["runs"].append((rid, ws_id, exp_id, number, "azureml.interactive", f"run-{number}", status,
                                 now + number, now + number, "active", "{}"))
            tags = {"mlflow.user": "bench", "team": f"t{rng.randrange(TEAMS)}"}
            params = {f"p{j}": "abc"[(number + j) % 3] for j in range(5)} if made is not None else {}
            rows["run_attributes"].extend((rid, "tag", k, v) for k, v in tags.items())
            rows["run_attributes"].extend((rid, "param", k, v) for k, v in params.items())
            if made is not None:
                values = [rng.random() for _ in range(5)]
                # The rows searches read (what the store's metric writes keep: one point per key, the latest).
                # Points themselves are left out: no search reads them.
                rows["latest_metrics"].extend((rid, f"m{j}", exp_id, "scalar", v, False, None, 0, now)
                                              for j, v in enumerate(values))
                made[rid] = _Made(now + number, status, params, tags, values)
        _bulk_insert(store, rows)
    if store._engine.dialect.name != "sqlite":
        # What autovacuum does after a bulk load, done now. Outside a transaction: an ANALYZE rolled back keeps
        # its row counts (written in place) but loses its column statistics, and tells autovacuum it is done.
        with store._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in _COLUMNS:
                conn.exec_driver_sql(f"ANALYZE {table}")
    return ids


def _fill_points(store: Any, run_ids: list[str], points_per_run: int) -> None:
    """points_per_run points in 5 keys for each run, through the store's own metric write (its schema, its latest)."""
    from azuremlcore._store.records import MetricPoint

    now = int(time.time() * 1000)
    per_key = points_per_run // 5
    batch: list[MetricPoint] = []
    for rid in run_ids:
        batch.extend(MetricPoint(rid, f"k{j}", "scalar", float(s), None, s, now + s)
                     for j in range(5) for s in range(per_key))
        if len(batch) >= 20_000:
            store.log_metrics(batch)
            batch = []
    if batch:
        store.log_metrics(batch)


def _best(fn: Callable[[], Any], n: int = 3) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _expected(made: dict[str, _Made], filter_: str, order_by: list[str], limit: int) -> list[str]:
    """The search done in Python over the inserted runs (the few shapes SEARCHES uses), MLflow's order rules."""
    from azuremlcore.server import _mlflow_search as grammar

    clauses, order = grammar.parse_filter(filter_), grammar.parse_order_by(order_by)

    def value(rid: str, kind: str, key: str) -> Any:
        m = made[rid]
        if kind == "metric":
            return m.metrics[int(key[1:])]
        if kind == "param":
            return m.params.get(key)
        if kind == "tag":
            return m.tags.get(key)
        return {"start_time": m.start, "status": m.status, "run_id": rid}[key]
    ops = {"=": lambda a, x: a == x, ">": lambda a, x: a > x, "<": lambda a, x: a < x,
           "IN": lambda a, x: a in x}

    def keep(rid: str) -> bool:
        for c in clauses:
            if not ops[c.op](value(rid, c.kind, c.key), c.value):
                return False
        return True
    rows = [rid for rid in made if keep(rid)]
    rows.sort(key=lambda rid: rid)
    rows.sort(key=lambda rid: made[rid].start, reverse=True)
    for o in reversed(order):
        rows.sort(key=lambda rid: value(rid, o.kind, o.key), reverse=not o.ascending)
    return rows[:limit]


def _plans(store: Any, ws_id: str, exp_id: str) -> str:
    """The query plan of each search's statements (captured as the store executes them), page of 100."""
    from sqlalchemy import event

    from azuremlcore.server import _mlflow_search as grammar

    pg = store._engine.dialect.name != "sqlite"
    out = []
    for label, filter_, order_by in SEARCHES:
        seen: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append((statement, parameters))
        event.listen(store._engine, "before_cursor_execute", capture)
        try:
            store.find_runs(ws_id, [exp_id], "active", grammar.parse_filter(filter_), grammar.parse_order_by(order_by),
                            100)
        finally:
            event.remove(store._engine, "before_cursor_execute", capture)
        out.append(f"{label}:")
        with store._engine.connect() as conn:
            for statement, parameters in seen:
                explain = "EXPLAIN (ANALYZE, COSTS OFF) " if pg else "EXPLAIN QUERY PLAN "
                out.append(f"  statement: {' '.join(statement.split())[:160]}...")
                out.extend("    " + str(row[-1]) for row in conn.exec_driver_sql(explain + statement, parameters))
    return "\n".join(out)


def history_part(server: Any, store: Any, ws_id: str) -> None:
    """The history of one key of 100k points, as the workspace around it grows to TOTAL_POINTS."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=server.uri)
    hist_exp = client.create_experiment("history")
    target = client.create_run(hist_exp).info.run_id
    now = int(time.time() * 1000)
    for s in range(0, HISTORY, 1000):
        client.log_batch(target, metrics=[Metric("h", float(i), now + i, i) for i in range(s, s + 1000)])
    made_runs, made_points = 1, HISTORY

    def in_store() -> None:
        after, got = 0, 0
        while True:
            rows, last = store.metric_history_page(target, "h", after, 25_000)
            got += len(rows)
            if last is None:
                break
            after = last
        assert got == HISTORY, got
    print(f"{'points in workspace':>20} {'runs':>8} {'history 100k, raw HTTP s':>26} {'store alone s':>14} "
          f"{'fill s':>8} {'fill points/s':>14}", flush=True)
    rng = random.Random(5)
    for stage in STAGES:
        want, fill = int(TOTAL_POINTS * stage), 0.0
        if want > made_points:
            n = (want - made_points) // 1000
            t0 = time.perf_counter()
            _fill_points(store, _fill_runs(store, ws_id, hist_exp, n, made_runs, rng, None), 1000)
            fill = time.perf_counter() - t0
            made_runs += n
            made_points += n * 1000
        dt = _best(lambda: b._raw_history(server, target, "h"), 5)
        alone = _best(in_store, 5)
        rate = (n * 1000 / fill) if fill else 0.0
        print(f"{made_points:20,} {made_runs:8,} {dt:26.3f} {alone:14.3f} {fill:8.1f} {rate:14,.0f}", flush=True)


def search_part(server: Any, store: Any, ws_id: str) -> None:
    """SEARCHES over one experiment growing through SEARCH_STAGES runs, each answer checked."""
    from mlflow import MlflowClient

    from azuremlcore.server import _mlflow_search as grammar

    search_exp = MlflowClient(tracking_uri=server.uri).create_experiment("search")
    session, rng, made = server.session(), random.Random(3), {}  # type: ignore[var-annotated]
    for stage in SEARCH_STAGES:
        t0 = time.perf_counter()
        _fill_runs(store, ws_id, search_exp, stage - len(made), len(made), rng, made)
        print(f"\n{stage:,} runs in the experiment (filled in {time.perf_counter() - t0:.1f} s)", flush=True)
        print(f"  {'search':40} {'page 100 s':>11} {'page 1,000 s':>13} {'store, 100 s':>13} {'found':>6}", flush=True)
        for label, filter_, order_by in SEARCHES:
            found: list = []

            def search(limit: int) -> None:
                r = session.post(f"{server.uri}/api/2.0/mlflow/runs/search", json={
                    "experiment_ids": [search_exp], "filter": filter_, "order_by": order_by, "max_results": limit})
                r.raise_for_status()
                found[:] = [x["info"]["run_id"] for x in r.json().get("runs", [])]
            small = _best(lambda: search(100))
            if found != _expected(made, filter_, order_by, 100):
                raise AssertionError(f"{label}: the page of 100 is not the expected runs in order")
            large = _best(lambda: search(1000))
            if found != _expected(made, filter_, order_by, 1000):
                raise AssertionError(f"{label}: the page of 1,000 is not the expected runs in order")
            clauses, order = grammar.parse_filter(filter_), grammar.parse_order_by(order_by)
            in_store = _best(lambda: store.find_runs(ws_id, [search_exp], "active", clauses, order, 101))
            print(f"  {label:40} {small:11.3f} {large:13.3f} {in_store:13.3f} {len(found):6}", flush=True)
    print(f"\nquery plans at {SEARCH_STAGES[-1]:,} runs ({store._engine.dialect.name}):")
    print(_plans(store, ws_id, search_exp), flush=True)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    print(f"scale {SCALE}, parts {', '.join(sorted(PARTS))}: history workspace up to {TOTAL_POINTS:,} points in "
          f"{TOTAL_POINTS // 1000:,} runs; search over {', '.join(f'{n:,}' for n in SEARCH_STAGES)} runs; "
          f"{'PostgreSQL' if b.POSTGRES else 'SQLite'}", flush=True)
    db = b._pg_database("bench_aml") if b.POSTGRES else None
    server = b.start_aml(work, db)
    store = _store(work, db)
    try:
        os.environ["MLFLOW_TRACKING_TOKEN"] = server.token or ""
        ws_id = store.find_workspace("bench", "bench", "bench")[0].id
        if "history" in PARTS:
            history_part(server, store, ws_id)
        if "search" in PARTS:
            search_part(server, store, ws_id)
    finally:
        server.stop()
        store.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
