"""What a RunDetails refresh costs on a big run, against reading the run's metrics alone.

Baseline measured here in the same run, on the same embedded store: `run.get_metrics()` (what any
refresh must read). Reported: one refresh's data (`get_widget_data`), drawing it as HTML (SVG charts
downsampled to the chart's width), the HTML's size, and the pause the refresher then takes
(at least 5x a refresh's cost, so a widget on a big run uses under a sixth of a core).
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time

N_METRICS = int(os.environ.get("BENCH_WIDGET_METRICS", "10"))
N_STEPS = int(os.environ.get("BENCH_WIDGET_STEPS", "20000"))
REPS = int(os.environ.get("BENCH_WIDGET_REPS", "3"))


def _median_s(fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(REPS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    """Log N_METRICS x N_STEPS points, then time a refresh's parts against get_metrics."""
    os.environ["AZUREMLCORE_HOME"] = tempfile.mkdtemp(prefix="bench-widgets-")
    from azuremlcore import Experiment, Workspace
    from azuremlcore.widgets import RunDetails, run_details
    from azuremlcore.widgets._render import page_html

    ws = Workspace.create(name="bench", subscription_id="b", resource_group="b", exist_ok=True, show_output=False)
    run = Experiment(ws, "bench-widgets").start_logging(outputs=False)
    for m in range(N_METRICS):
        for i in range(N_STEPS):
            run.log(f"metric_{m}", (i % 997) * 0.001 + m)
    run.flush()
    details = RunDetails(run)
    baseline = _median_s(run.get_metrics)
    data_s = _median_s(details.get_widget_data)
    data = details.get_widget_data()
    render_s = _median_s(lambda: page_html(data))
    size_kib = len(page_html(data).encode()) / 1024
    pause = max(run_details.MIN_INTERVAL_S, run_details._COST_FACTOR * (data_s + render_s))
    print(f"run with {N_METRICS} metrics x {N_STEPS} steps; baseline run.get_metrics(): {baseline:.2f} s")
    print(f"{'what':<34}{'seconds':>9}{'x baseline':>12}")
    print(f"{'get_widget_data()':<34}{data_s:>9.2f}{data_s / baseline:>12.2f}")
    print(f"{'draw HTML (SVG charts)':<34}{render_s:>9.2f}{render_s / baseline:>12.2f}")
    print(f"HTML of one refresh: {size_kib:.0f} KiB; refresher pauses {pause:.1f} s between refreshes")


if __name__ == "__main__":
    main()
