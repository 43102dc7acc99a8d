"""Start-up time of the `aml` console script: `aml --help` must answer in under 0.3 s.

Baseline measured here in the same run: `python -c pass` with the same interpreter (what any
console script costs before its own imports). Also measured, for information: `aml run -h` (one
group's parsers built) and `aml run list -o json` on an embedded workspace (the SDK imported and a
store opened). Each is the median of BENCH_CLI_REPEAT runs (default 15), after one warm-up run.
Exits non-zero when `aml --help` takes 0.3 s or more.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEAT = int(os.environ.get("BENCH_CLI_REPEAT", "15"))
LIMIT_S = 0.3
AML = str(Path(sys.executable).with_name("aml"))


def timed(cmd: list[str], cwd: str, env: dict[str, str]) -> float:
    """Median wall time of `cmd` in seconds (a failing command aborts the benchmark)."""
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)  # warm the OS caches
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    """Measure and print the table; non-zero when `aml --help` is over the limit."""
    home, work = tempfile.mkdtemp(prefix="bench-home-"), tempfile.mkdtemp(prefix="bench-cli-")
    env = {**os.environ, "AZUREMLCORE_HOME": home}
    env.pop("AZUREMLCORE_ENDPOINT", None)
    subprocess.run([AML, "workspace", "create", "-w", "bench", "-g", "rg", "-o", "none"], cwd=work, env=env, check=True)
    subprocess.run([AML, "folder", "attach", "-w", "bench", "-g", "rg", "-o", "none"], cwd=work, env=env, check=True)
    baseline = timed([sys.executable, "-c", "pass"], work, env)
    rows = [("aml --help", timed([AML, "--help"], work, env)),
            ("aml run -h", timed([AML, "run", "-h"], work, env)),
            ("aml run list -o json (embedded workspace)", timed([AML, "run", "list", "-o", "json"], work, env))]
    print(f"{'what':44s} {'median s':>9s} {'vs baseline':>12s}")
    print(f"{'baseline: python -c pass':44s} {baseline:9.3f} {1.0:11.1f}x")
    for name, seconds in rows:
        print(f"{name:44s} {seconds:9.3f} {seconds / baseline:11.1f}x")
    help_s = rows[0][1]
    verdict = "under" if help_s < LIMIT_S else "OVER"
    print(f"aml --help: {help_s:.3f} s, {verdict} the {LIMIT_S} s limit")
    return 0 if help_s < LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())
