"""Metric storage in-process: this checkout's store against a baseline commit's, same machine, same run.

    .venv/bin/python bench/bench_metric_store.py                  # SQLite, baseline = BASELINE_REF below
    BENCH_METRIC_BASELINE=main .venv/bin/python bench/bench_metric_store.py
    BENCH_SERVER_POSTGRES_URL=postgresql://... .venv/bin/python bench/bench_metric_store.py   # PostgreSQL

What the server's metric paths cost in the store alone, without HTTP or JSON:

* `log_batch` path: 200k points of one key in calls of 1,000 to `log_metrics_unique` (what the
  server's MLflow `runs/log-batch` stores, with the duplicate check of a retried batch);
* spool path: the same through `log_metrics_once` (the SDK's run.log into a server, as points);
* columns path: the same through `log_metric_columns_once` in records of 25,000 (the SDK's run.log into a
  server as the server stores it now: a spool record's columns; left out for a baseline without it);
* MLflow's duplicate check where it reads points: 10 batches of the `log_batch` path retried (every point a
  twin, spread over its 200k-point series), its newest batch retried (a client's retry, a journal replay), and
  its worst case, 10 batches of step 0 in one millisecond onto
  100k points of that same rank (every stored point a candidate), seconds a batch;
* history: 100k points of one key read through `metric_history_page` (`metric_page` for a baseline
  without it) in pages of 25,000 (MLflow's page),
  the server's share of `get_metric_history` before JSON;
* the CPU time of the process for each insert measure (with SQLite, the database's work is in it; with
  PostgreSQL only the client's): less moved by the other jobs of a shared machine than the rates;
* the bytes the points take in the database (SQLite: the whole file; PostgreSQL: the points table
  with its indexes), divided by the points stored.

`BENCH_METRIC_AROUND=1000000` first fills the workspace with that many points in other runs (runs of
10,000 points in 5 keys), so the measures see indexes larger than the cache.

The baseline is the same measures on a commit's tree (`git archive` into a temporary folder, run
with this venv), so a change to the store is measured against what it replaced. Each side runs in
its own process, interleaved A B B A ... (`BENCH_METRIC_REPEAT`, default 5), each on a fresh
database; the ranges over the repetitions are printed, with the ratio of the best figures (the
shared machine's load only ever makes a figure worse).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

# The last commit before the points table was keyed by (series_id, id) (migration 0008); 6ee8116 is the last
# before metric points were keyed by a series id (migration 0005).
BASELINE_REF = os.environ.get("BENCH_METRIC_BASELINE", "ceb72fc")
REPEAT = int(os.environ.get("BENCH_METRIC_REPEAT", "5"))
POSTGRES = os.environ.get("BENCH_SERVER_POSTGRES_URL")
AROUND = int(os.environ.get("BENCH_METRIC_AROUND", "0"))  # points already stored in other runs
N_INSERT, BATCH, N_HISTORY, PAGE, RECORD = 200_000, 1_000, 100_000, 25_000, 25_000
RETRIES, N_SAME = 10, 110_000  # batches retried; points of step 0 in one millisecond
HERE = Path(__file__).resolve().parent


def _database(work: Path, tag: str) -> tuple[str, str | None]:
    """A fresh database URL (and the PostgreSQL database's name, to drop afterwards)."""
    if not POSTGRES:
        return f"sqlite:///{work / (tag + '.db')}", None
    import sqlalchemy as sa

    name = f"bench_metrics_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return POSTGRES.rsplit("/", 1)[0] + "/" + name, name


def _drop(name: str | None) -> None:
    if name is None:
        return
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
    admin.dispose()


def measure(url: str) -> dict[str, float]:
    """The measures on the store importable here (run in a child process with the tree on sys.path)."""
    from azuremlcore._store.records import MetricPoint, RunRecord, WorkspaceRecord
    from azuremlcore._store.sql import SqlWorkspaceStore

    store = SqlWorkspaceStore(url)
    ws = store.create_workspace(WorkspaceRecord(id="", subscription_id="s", resource_group="g",
                                                name=f"w{uuid.uuid4().hex[:8]}"))
    exp = store.create_experiment(ws.id, "bench")

    def run() -> str:
        rid = uuid.uuid4().hex
        store.create_run(RunRecord(id=rid, workspace_id=ws.id, experiment_id=exp.id, status="Running"))
        return rid

    def batches(rid: str, key: str, n: int) -> list[list[MetricPoint]]:
        t0 = 1_700_000_000_000
        return [[MetricPoint(rid, key, "scalar", float(i), None, i, t0 + i) for i in range(s, s + BATCH)]
                for s in range(0, n, BATCH)]

    out: dict[str, float] = {}
    for n in range(AROUND // 10_000):  # the workspace around: runs of 10,000 points in 5 keys
        around = run()
        store.log_metrics([MetricPoint(around, f"k{i % 5}", "scalar", float(i), None, i // 5, 1_700_000_000_000 + i)
                           for i in range(10_000)])
    rid = run()
    work = batches(rid, "b", N_INSERT)
    start, cpu = time.perf_counter(), time.process_time()
    for b in work:
        store.log_metrics_unique(rid, b)
    out["log_batch path points/s"] = N_INSERT / (time.perf_counter() - start)
    out["log_batch path, this process's CPU s"] = time.process_time() - cpu
    # MLflow's duplicate check where it must read points: retries of batches spread over the 200k-point series
    # (since migration 0009 a scan of the series' range, before a seek on the step index) ...
    retried = work[::N_INSERT // BATCH // RETRIES]
    start = time.perf_counter()
    assert sum(store.log_metrics_unique(rid, b) for b in retried) == 0
    out["a retried batch of 1,000 (all twins) s"] = (time.perf_counter() - start) / len(retried)
    start = time.perf_counter()  # the newest batch again: a client's retry, the write-behind's journal replay
    assert sum(store.log_metrics_unique(rid, work[-1]) for _ in range(RETRIES)) == 0
    out["the newest batch retried s"] = (time.perf_counter() - start) / RETRIES
    # ... and its worst case: a series of step 0 in one millisecond, more points at that same rank.
    rid = run()
    same = [[MetricPoint(rid, "z", "scalar", float(i), None, 0, 1_700_000_000_000) for i in range(s, s + BATCH)]
            for s in range(0, N_SAME, BATCH)]
    for b in same[:-RETRIES]:
        store.log_metrics(b)
    start = time.perf_counter()
    for b in same[-RETRIES:]:
        store.log_metrics_unique(rid, b)
    out["a batch of 1,000 onto 100k points of its rank (step 0, one ms) s"] = (time.perf_counter() - start) / RETRIES
    rid = run()
    work = batches(rid, "s", N_INSERT)
    start, cpu = time.perf_counter(), time.process_time()
    for n, b in enumerate(work):
        store.log_metrics_once(rid, "bench", n, b)
    out["spool path points/s"] = N_INSERT / (time.perf_counter() - start)
    out["spool path, this process's CPU s"] = time.process_time() - cpu
    if hasattr(store, "log_metric_columns_once"):
        from azuremlcore._store.records import MetricColumns

        rid = run()
        t0 = 1_700_000_000_000
        records = [MetricColumns(n, "c", "scalar", [float(i) for i in range(s, s + RECORD)], None,
                                 list(range(s, s + RECORD)), [t0 + i for i in range(s, s + RECORD)])
                   for n, s in enumerate(range(0, N_INSERT, RECORD))]
        start, cpu = time.perf_counter(), time.process_time()
        for record in records:
            store.log_metric_columns_once(rid, "bench", [record])
        out["columns path points/s"] = N_INSERT / (time.perf_counter() - start)
        out["columns path, this process's CPU s"] = time.process_time() - cpu
    rid = run()
    for b in batches(rid, "h", N_HISTORY):
        store.log_metrics(b)
    best = float("inf")
    for _ in range(3):
        start, after, got = time.perf_counter(), 0, 0
        while True:
            if hasattr(store, "metric_history_page"):  # what the server's history reads (since migration 0008)
                rows, last = store.metric_history_page(rid, "h", after, PAGE)
                got += len(rows)
                if last is None:
                    break
                after = last
                continue
            rows = store.metric_page(rid, "h", after, PAGE + 1)
            got += min(len(rows), PAGE)
            if len(rows) <= PAGE:
                break
            after = rows[PAGE - 1][0]
        best = min(best, time.perf_counter() - start)
        assert got == N_HISTORY, got
    out["history 100k points s"] = best
    stored = (3 if "columns path points/s" in out else 2) * N_INSERT + N_HISTORY + N_SAME + AROUND // 10_000 * 10_000
    out["stored bytes per point"] = _bytes(store) / stored
    store.close()
    return out


def _bytes(store: object) -> int:
    """The points' size in the database: their table and its indexes (PostgreSQL), the whole file (SQLite)."""
    with store._engine.connect() as conn:  # type: ignore[attr-defined]
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            return conn.exec_driver_sql("PRAGMA page_count").scalar() * conn.exec_driver_sql(
                "PRAGMA page_size").scalar()
        return conn.exec_driver_sql("SELECT pg_total_relation_size('metrics')").scalar()


def _side(tree: Path, work: Path, tag: str) -> dict[str, float]:
    url, name = _database(work, tag)
    try:
        code = (f"import sys, json; sys.path.insert(0, {str(tree)!r}); sys.path.insert(1, {str(HERE)!r}); "
                f"import bench_metric_store as b; print(json.dumps(b.measure({url!r})))")
        env = {**os.environ, "PYTHONPATH": str(tree)}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tree)
        if done.returncode != 0:
            raise RuntimeError(f"{tag} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        _drop(name)


def main() -> int:
    """Measure both sides interleaved and print the table."""
    repo = HERE.parent
    with tempfile.TemporaryDirectory(prefix="bench-metric-store-") as tmp:
        work = Path(tmp)
        base = work / "baseline"
        base.mkdir()
        archive = subprocess.run(["git", "-C", str(repo), "archive", BASELINE_REF], capture_output=True)
        if archive.returncode != 0:  # a shallow clone, or no git: nothing to compare against
            print(f"skipped: baseline {BASELINE_REF} not available here ({archive.stderr.decode().strip()[:200]}); "
                  "set BENCH_METRIC_BASELINE to a commit of this clone")
            return 0
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        sides = {"this checkout": repo, f"baseline {BASELINE_REF}": base}
        found: dict[str, list[dict[str, float]]] = {s: [] for s in sides}
        for i in range(REPEAT):
            order = list(sides) if i % 2 == 0 else list(reversed(sides))
            for s in order:
                found[s].append(_side(sides[s], work, f"{i}-{s.split()[0]}"))
                print(f"  {s} #{i + 1}: " + ", ".join(f"{k} {v:,.3f}" for k, v in found[s][-1].items()), flush=True)
    db = "PostgreSQL" if POSTGRES else "SQLite"
    print(f"\nMetric storage in-process ({db}, {AROUND:,} points around, {REPEAT} repetitions, interleaved; ranges, ratio of the best)")
    names = list(sides)
    print(f"| measure | {names[0]} | {names[1]} | ratio |\n|---|---:|---:|---:|")
    for key in found[names[0]][0]:
        cells, bests = [], []
        for s in names:
            vals = [r[key] for r in found[s] if key in r]  # a measure the baseline's store cannot take is left out
            if not vals:
                cells.append("")
                continue
            bests.append(max(vals) if key.endswith("/s") else min(vals))
            fmt = "{:,.0f}" if key.endswith("/s") else "{:.3f}" if key.endswith(" s") else "{:,.1f}"
            cells.append(f"{fmt.format(min(vals))}–{fmt.format(max(vals))}")
        if len(bests) < 2:
            print(f"| {key} | {cells[0]} | {cells[1]} | |")
            continue
        ratio = bests[0] / bests[1] if key.endswith("/s") else bests[1] / bests[0]  # bytes and seconds: less
        print(f"| {key} | {cells[0]} | {cells[1]} | {ratio:.2f}× |")
    print("(ratio above 1: this checkout is better)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
