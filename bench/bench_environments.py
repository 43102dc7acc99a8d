"""Environment builds: azuremlcore's `materialise` (uv, cached) against `python -m venv` + `pip install`, same run.

Measured, each in a fresh temporary directory:
- "venv + pip": `python -m venv` then `pip install numpy` with `--no-cache-dir` and pip's config
  ignored (so it downloads from PyPI like uv does, not from a local wheel mirror);
- "materialise, cold uv cache": a new AZUREMLCORE_HOME and an empty UV_CACHE_DIR (downloads everything,
  and also installs the SDK's own runtime requirements into the env);
- "materialise, warm uv cache": a new AZUREMLCORE_HOME, uv's normal cache (a second spec on a used laptop);
- "materialise, reuse": the same spec again (what every run after the first pays).
Prints seconds and the ratio of the baseline to each.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGE = os.environ.get("BENCH_ENV_PACKAGE", "numpy")


def bench_pip(tmp: Path) -> float:
    """Seconds for python -m venv + pip install PACKAGE (no cache, PyPI)."""
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True)
    subprocess.run([str(tmp / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--no-cache-dir", PACKAGE],
                   check=True, env=env)
    return time.perf_counter() - t0


def bench_materialise(home: Path, uv_cache: Path | None) -> tuple[float, float, bool]:
    """(seconds for the first materialise, seconds for the second, reused flag of the second)."""
    os.environ["AZUREMLCORE_HOME"] = str(home)
    if uv_cache is not None:
        os.environ["UV_CACHE_DIR"] = str(uv_cache)
    else:
        os.environ.pop("UV_CACHE_DIR", None)
    from azuremlcore._environments import materialise
    from azuremlcore.conda_dependencies import CondaDependencies
    from azuremlcore.environment import Environment

    env = Environment("bench")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=[PACKAGE])
    t0 = time.perf_counter()
    first = materialise(env, log=lambda _line: None)
    t1 = time.perf_counter()
    second = materialise(env, log=lambda _line: None)
    t2 = time.perf_counter()
    assert first.reused is False and second.reused is True and first.python == second.python
    out = subprocess.run([str(first.python), "-c", f"import {PACKAGE}"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return t1 - t0, t2 - t1, second.reused


def main() -> int:
    """Run the three measurements and print the table."""
    saved = {k: os.environ.get(k) for k in ("AZUREMLCORE_HOME", "UV_CACHE_DIR")}
    with tempfile.TemporaryDirectory(prefix="bench-env-") as d:
        tmp = Path(d)
        pip_s = bench_pip(tmp)
        cold_s, reuse_s, _ = bench_materialise(tmp / "home-cold", tmp / "uv-cache")
        warm_s, reuse2_s, _ = bench_materialise(tmp / "home-warm", None)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    rows = [
        ("venv + pip install (baseline)", pip_s),
        ("materialise, cold uv cache", cold_s),
        ("materialise, warm uv cache", warm_s),
        ("materialise, reuse (same spec)", min(reuse_s, reuse2_s)),
    ]
    print(f"Environment with {PACKAGE} (materialise also installs the SDK's runtime requirements)")
    print(f"{'case':36s} {'seconds':>9s} {'baseline/case':>14s}")
    for label, secs in rows:
        print(f"{label:36s} {secs:9.3f} {pip_s / secs:13.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
