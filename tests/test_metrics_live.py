"""Metrics of a submitted job are live and survive its end: cancel, time limit, SIGKILL (run.log and MLflow).

Each job logs the same counter three ways per step: `run.log` ("v"), `mlflow.log_metric` ("s") and
`mlflow.log_metric(..., synchronous=False)` ("a"), and appends "<step> <time>" to a progress file
after each step (a line-buffered file survives a SIGKILL).
"""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("mlflow")

LOOP = """
    import json, sys, time
    import mlflow
    from azuremlcore import Run

    progress = sys.argv[1]
    run = Run.get_context()
    counts = {"v": 0, "s": 0, "a": 0}
    try:
        with open(progress, "a", buffering=1) as out:
            i = 0
            while True:
                run.log("v", i)
                counts["v"] += 1
                mlflow.log_metric("s", i, step=i)
                counts["s"] += 1
                mlflow.log_metric("a", i, step=i, synchronous=False)
                counts["a"] += 1
                out.write(f"{i} {time.time()}\\n")
                i += 1
                time.sleep(0.01)
    finally:  # runs on SIGTERM too (job_signals): how many calls returned, per key
        with open(progress + ".counts", "w") as f:
            f.write(json.dumps(counts))
"""

KEYS = ("v", "s", "a")


def _progress(path: Path) -> list[tuple[int, float]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            rows.append((int(parts[0]), float(parts[1])))
    return rows


def _values(metrics: dict[str, Any], key: str) -> list[float]:
    v = metrics.get(key)
    return [] if v is None else sorted(v if isinstance(v, list) else [v])


def _assert_all_stored(run: Any, progress: Path) -> None:
    """Every value whose log call returned is stored (a call cut short by the signal may or may not be)."""
    counts = json.loads(Path(f"{progress}.counts").read_text())
    metrics = run.get_metrics()
    for key in KEYS:
        stored = _values(metrics, key)
        assert counts[key] > 0, f"{key}: nothing was logged before the job was stopped"
        assert counts[key] <= len(stored) <= counts[key] + 1, (key, counts[key], len(stored))
        assert stored == list(range(len(stored))), f"{key}: gaps or duplicates"


def test_cancel_stores_every_logged_value(submit_script, wait_until, tmp_path: Path) -> None:
    progress = tmp_path / "progress.txt"
    run = submit_script(LOOP, str(progress))
    wait_until(lambda: len(_progress(progress)) >= 30, what="30 steps logged")
    run.cancel()  # SIGTERM to the script's process group, grace period, then SIGKILL
    assert run.get_status() == "Canceled"
    _assert_all_stored(run, progress)


def test_time_limit_stores_every_logged_value(submit_script, tmp_path: Path) -> None:
    progress = tmp_path / "progress.txt"
    run = submit_script(LOOP, str(progress), max_run_duration_seconds=10)  # room for importing mlflow on a loaded machine
    run.wait_for_completion(raise_on_error=False)
    details = run.get_details()
    assert details["status"] == "Failed"
    assert "max_run_duration_seconds=10" in details["error"]["error"]["message"]
    _assert_all_stored(run, progress)


def test_sigkill_keeps_what_was_logged_a_second_before(submit_script, wait_until, tmp_path: Path) -> None:
    progress = tmp_path / "progress.txt"
    run = submit_script(LOOP, str(progress))
    # Log for a while: at least 1.5 s of steps before the kill.
    wait_until(lambda: (rows := _progress(progress)) and rows[-1][1] - rows[0][1] > 1.5, what="1.5 s of steps")
    script_pid = wait_until(lambda: run._store.get_run(run.id).details.get("_runner", {}).get("scriptPid"))
    killed_at = time.time()
    os.kill(script_pid, signal.SIGKILL)  # no handler, no atexit: only what was already written counts
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Failed"
    old_enough = [step for step, t in _progress(progress) if t < killed_at - 1.0]
    assert old_enough, "no step was logged more than 1 s before the kill"
    metrics = run.get_metrics()
    for key in KEYS:
        stored = _values(metrics, key)
        assert stored == list(range(len(stored))), f"{key}: gaps or duplicates"
        assert len(stored) > old_enough[-1], f"{key}: {len(stored)} stored, but {old_enough[-1] + 1} logged >1 s before"


def test_another_process_sees_metrics_while_the_run_runs(submit_script, wait_until, tmp_path: Path) -> None:
    # The job logs one step, then waits for this test to have seen it: nothing but the writer's own
    # schedule (no flush, no exit) can make the values visible here.
    go = tmp_path / "go"
    run = submit_script("""
        import os, sys, time
        import mlflow
        from azuremlcore import Run

        go = sys.argv[1]
        run = Run.get_context()
        for i in range(4):
            run.log("v", i)
            mlflow.log_metric("a", i, step=i, synchronous=False)
            while not os.path.exists(f"{go}.{i}"):
                time.sleep(0.01)
    """, str(go))
    seen = []
    for i in range(4):
        def step_visible() -> Any:
            m = run.get_metrics()
            return m if len(_values(m, "v")) == i + 1 and len(_values(m, "a")) == i + 1 else None

        metrics = wait_until(step_visible, timeout=30, what=f"step {i} visible")
        assert run.get_status() == "Running"
        seen.append(_values(metrics, "v"))
        Path(f"{go}.{i}").touch()
    run.wait_for_completion()
    assert seen == [[0], [0, 1], [0, 1, 2], [0, 1, 2, 3]]
