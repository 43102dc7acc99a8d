"""Run every benchmark in bench/ (bench_*.py), each in its own process, and print their reports.

A benchmark prints its own table of ratios against a baseline it measures in the same run.
`BENCH_ONLY=logging,submit make bench` runs a subset. Benchmarks run by hand (BY_HAND: slow, large
databases) run only when BENCH_ONLY names them.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BY_HAND = frozenset({"scale"})


def main() -> int:
    """Run the benchmarks; return non-zero if any failed."""
    here = Path(__file__).resolve().parent
    only = {s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip()}
    failed = []
    for script in sorted(here.glob("bench_*.py")):
        name = script.stem.removeprefix("bench_")
        if (only and name not in only) or (not only and name in BY_HAND):
            continue
        print(f"\n=== {script.name} ===", flush=True)
        if subprocess.call([sys.executable, str(script)]) != 0:
            failed.append(script.name)
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
