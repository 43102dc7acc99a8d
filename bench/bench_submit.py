"""Submit-to-first-line latency of a local script run, beside a plain `subprocess` launch of the same script.

The script's first statement prints `time.time()`; latency is that stamp minus the moment before the
call that starts it (`Experiment.submit`, or `subprocess.Popen` for the baseline), so it covers the
whole path: snapshot, run record, runner start, environment lookup, script start. Measured here:
- "subprocess (baseline)": `subprocess.Popen([python, script])`, nothing else;
- "submit, user-managed env": the current interpreter, no environment build;
- "submit, cached env": a system-managed environment (pip: six) already built by an earlier submit
  (the first, cold submit is reported too, but not part of the median).
Also "submit() returns": how long the notebook is blocked. Median of BENCH_SUBMIT_REPEATS (default 5).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = int(os.environ.get("BENCH_SUBMIT_REPEATS", "5"))
SCRIPT = "import time, sys\nprint('FIRST', repr(time.time()), flush=True)\n"


def _first_stamp(read) -> float:  # type: ignore[no-untyped-def]
    """Poll `read()` (the log text so far) until the FIRST line appears; return its timestamp."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for line in read().splitlines():
            if line.startswith("FIRST "):
                return float(line.split()[1])
        time.sleep(0.002)
    raise TimeoutError("the script never printed its first line")


def bench_baseline(src: Path) -> float:
    """Seconds from Popen to the script's first line."""
    t0 = time.time()
    out = subprocess.run([sys.executable, str(src / "first.py")], capture_output=True, text=True, check=True).stdout
    return float(out.split()[1]) - t0


def bench_submit(exp, src: Path, env) -> tuple[float, float, str]:  # type: ignore[no-untyped-def]
    """(seconds to the first line, seconds submit() blocked, final status) for one submit."""
    from azuremlcore import ScriptRunConfig

    config = ScriptRunConfig(source_directory=str(src), script="first.py", environment=env)
    t0 = time.time()
    run = exp.submit(config)
    blocked = time.time() - t0
    stamp = _first_stamp(lambda: run._artifacts.read_from(run._container, "user_logs/std_log.txt", 0).decode())
    status = run.wait_for_completion()["status"]
    return stamp - t0, blocked, status


def main() -> int:
    """Run the benchmark and print a table."""
    with tempfile.TemporaryDirectory(prefix="bench-submit-") as tmp:
        os.environ["AZUREMLCORE_HOME"] = str(Path(tmp) / "home")
        from azuremlcore import Environment, Experiment, Workspace
        from azuremlcore.conda_dependencies import CondaDependencies

        src = Path(tmp) / "src"
        src.mkdir()
        (src / "first.py").write_text(SCRIPT)
        ws = Workspace.create(name="bench", subscription_id="b", resource_group="b", exist_ok=True, show_output=False)
        exp = Experiment(ws, "bench-submit")
        user = Environment("bench-user")
        user.python.user_managed_dependencies = True
        built = Environment("bench-six")
        built.python.conda_dependencies = CondaDependencies.create(pip_packages=["six"])

        base = [bench_baseline(src) for _ in range(REPEATS)]
        cold, cold_blocked, _ = bench_submit(exp, src, built)
        results = {"submit, user-managed env": [bench_submit(exp, src, user) for _ in range(REPEATS)],
                   "submit, cached env": [bench_submit(exp, src, built) for _ in range(REPEATS)]}
        b = statistics.median(base)
        print(f"{'case':<32}{'first line (s)':>16}{'submit() (s)':>14}{'x baseline':>12}")
        print(f"{'subprocess (baseline)':<32}{b:>16.3f}{'':>14}{1.0:>12.1f}")
        for name, rows in results.items():
            assert all(r[2] == "Completed" for r in rows), rows
            first = statistics.median(r[0] for r in rows)
            blocked = statistics.median(r[1] for r in rows)
            print(f"{name:<32}{first:>16.3f}{blocked:>14.3f}{first / b:>12.1f}")
        print(f"{'submit, env built cold (once)':<32}{cold:>16.3f}{cold_blocked:>14.3f}{cold / b:>12.1f}")
        print(f"(median of {REPEATS}; uv's download cache was {'warm' if cold < 10 else 'cold'} for the cold build)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
