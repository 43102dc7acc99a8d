"""The background metrics writer: flush latency, throughput, and how soon another process sees a value.

Baselines measured here in the same run, on the same SQLite store:
- "direct write": `store.log_metrics(batch)` called in the logging thread (no queue, no writer thread);
  the floor for `flush()` of a small batch and the ceiling for throughput.
- the writer's own bound, `WRITE_INTERVAL_S`, for the time until another connection sees a value.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time

N_FLUSH = int(os.environ.get("BENCH_FLUSH_REPS", "200"))
N_POINTS = int(os.environ.get("BENCH_WRITER_POINTS", "100000"))
N_VISIBLE = int(os.environ.get("BENCH_VISIBLE_REPS", "10"))


def _run():  # type: ignore[no-untyped-def]
    from azuremlcore import Experiment, Workspace

    ws = Workspace.create(name="bench", subscription_id="b", resource_group="b", exist_ok=True, show_output=False)
    return Experiment(ws, "bench-writer").start_logging()


def flush_latency_ms() -> tuple[float, float]:
    """(median ms of run.log x10 + flush, median ms of a direct write of the same 10 points)."""
    from azuremlcore._store.records import MetricPoint

    run = _run()
    flushes, direct = [], []
    for r in range(N_FLUSH):
        for i in range(10):
            run.log("f", i)
        t = time.perf_counter()
        run.flush()
        flushes.append(time.perf_counter() - t)
        points = [MetricPoint(run.id, "d", "scalar", float(i), None, r * 10 + i, int(time.time() * 1000))
                  for i in range(10)]
        t = time.perf_counter()
        run._store.log_metrics(points)
        direct.append(time.perf_counter() - t)
    run.complete()
    return statistics.median(flushes) * 1000, statistics.median(direct) * 1000


def throughput() -> tuple[float, float, float]:
    """(values/s the loop sees, values/s stored through run.log + flush, values/s of direct 10k-point writes)."""
    from azuremlcore._store.records import MetricPoint

    run = _run()
    t0 = time.perf_counter()
    for i in range(N_POINTS):
        run.log("loss", i * 0.001)
    t1 = time.perf_counter()
    run.flush()
    t2 = time.perf_counter()
    now = int(time.time() * 1000)
    points = [MetricPoint(run.id, "direct", "scalar", i * 0.001, None, i, now) for i in range(N_POINTS)]
    t3 = time.perf_counter()
    for i in range(0, N_POINTS, 10_000):
        run._store.log_metrics(points[i:i + 10_000])
    t4 = time.perf_counter()
    run.complete()
    return N_POINTS / (t1 - t0), N_POINTS / (t2 - t0), N_POINTS / (t4 - t3)


def visible_after_ms() -> float:
    """Median ms from run.log until a second connection to the database reads the value (no flush)."""
    from azuremlcore._store.sql import SqlWorkspaceStore

    run = _run()
    other = SqlWorkspaceStore(run._store.url)
    times = []
    for r in range(N_VISIBLE):
        t = time.perf_counter()
        run.log("seen", r)
        while len(other.get_metrics([run.id], "seen")) <= r:
            time.sleep(0.002)
        times.append(time.perf_counter() - t)
        time.sleep(0.05)  # let the writer go idle, as between epochs
    run.complete()
    return statistics.median(times) * 1000


def main() -> None:
    """Measure and print the table."""
    from azuremlcore._tracking.metrics_writer import WRITE_INTERVAL_S

    os.environ.setdefault("AZUREMLCORE_HOME", tempfile.mkdtemp(prefix="bench-home-"))
    flush_ms, direct_ms = flush_latency_ms()
    loop_rate, stored_rate, direct_rate = throughput()
    visible_ms = visible_after_ms()
    print(f"{'what':52s} {'value':>14s}")
    print(f"{'flush() after 10 run.log (median)':52s} {flush_ms:11.2f} ms")
    print(f"{'baseline: direct write of 10 points (median)':52s} {direct_ms:11.2f} ms")
    print(f"{'run.log in the training loop':52s} {loop_rate:10,.0f} /s")
    print(f"{'run.log + flush, stored':52s} {stored_rate:10,.0f} /s")
    print(f"{'baseline: direct writes of 10k points':52s} {direct_rate:10,.0f} /s")
    print(f"{'visible to another connection after (median)':52s} {visible_ms:11.1f} ms")
    print(f"ratio flush / direct write: {flush_ms / direct_ms:.1f}x")
    print(f"ratio stored / direct writes: {stored_rate / direct_rate:.2f}x")
    print(f"ratio visible-after / write interval bound ({WRITE_INTERVAL_S * 1000:.0f} ms): "
          f"{visible_ms / (WRITE_INTERVAL_S * 1000):.2f}x")


if __name__ == "__main__":
    main()
