"""SIGTERM in a job process ends it as SystemExit(143): exit handlers run and queued metrics are stored."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_sigterm_runs_finally_blocks_and_exit_handlers(tmp_path: Path) -> None:
    out = _python(f"""
        import atexit, os, signal, time
        from azuremlcore._tracking import job_signals
        assert job_signals.install() and job_signals.install()  # idempotent
        atexit.register(lambda: open({str(tmp_path / 'atexit')!r}, 'w').close())
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        finally:
            open({str(tmp_path / 'finally')!r}, 'w').close()
    """)
    assert out.returncode == 143, out.stderr
    assert (tmp_path / "atexit").exists() and (tmp_path / "finally").exists()
    assert "SIGTERM received" in out.stderr and "Traceback" not in out.stderr


def test_a_second_sigterm_does_not_cut_the_exit_handlers_short(tmp_path: Path) -> None:
    out = _python(f"""
        import atexit, os, signal, time
        from azuremlcore._tracking import job_signals
        job_signals.install()
        def store():
            os.kill(os.getpid(), signal.SIGTERM)  # the runner's group-wide SIGTERM reaching us again
            time.sleep(0.2)
            open({str(tmp_path / 'stored')!r}, 'w').close()
        atexit.register(store)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
    """)
    assert out.returncode == 143, out.stderr
    assert (tmp_path / "stored").exists()


def test_a_handler_of_the_script_is_left_alone() -> None:
    out = _python("""
        import signal
        from azuremlcore._tracking import job_signals
        mine = lambda *a: None
        signal.signal(signal.SIGTERM, mine)
        print(job_signals.install(), signal.getsignal(signal.SIGTERM) is mine)
    """)
    assert out.stdout.split() == ["False", "True"], out.stderr


def test_only_the_main_thread_installs() -> None:
    from azuremlcore._tracking import job_signals

    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(job_signals.install()))
    t.start()
    t.join()
    assert result == [False] and not job_signals.installed()


def test_the_start_up_hook_installs_it_in_a_jobs_main_process_only() -> None:
    out = _python("""
        import os
        import azuremlcore._startup as startup
        from azuremlcore._tracking import job_signals
        startup.run_hooks()
        before = job_signals.installed()
        os.environ[startup.JOB_MAIN_ENV] = "1"
        startup.run_hooks()
        print(before, job_signals.installed(), startup.JOB_MAIN_ENV in os.environ)
    """)
    assert out.stdout.split() == ["False", "True", "False"], out.stderr


def test_metrics_queued_when_a_job_gets_sigterm_are_stored(workspace) -> None:  # type: ignore[no-untyped-def]
    # No start-up hook here: Run.get_context() installs the handler itself.
    from azuremlcore import Experiment
    from azuremlcore.run import SCRIPT_RUN_TYPE, Run

    run = Run._start(Experiment(workspace, "sigterm"), run_type=SCRIPT_RUN_TYPE, status="Running")
    out = _python("""
        import os, signal, time
        from azuremlcore import Run
        run = Run.get_context()
        for i in range(5000):
            run.log("v", i)
        os.kill(os.getpid(), signal.SIGTERM)  # at once: most values are still queued
        time.sleep(30)
    """, env={"AZUREML_RUN_ID": run.id, "AZUREML_ARM_WORKSPACE_NAME": workspace.name,
              "AZUREML_ARM_SUBSCRIPTION": workspace.subscription_id,
              "AZUREML_ARM_RESOURCEGROUP": workspace.resource_group})
    assert out.returncode == 143, out.stderr
    assert run.get_metrics()["v"] == list(range(5000))


def test_in_job_metric_modules_parse_as_python_38() -> None:
    import ast

    root = Path(__file__).resolve().parents[1]
    for module in ("azuremlcore/_tracking/job_signals.py", "azuremlcore/_tracking/metrics_writer.py",
                   "azuremlcore/_tracking/metric_checks.py", "azuremlcore/_tracking/metric_values.py",
                   "azuremlcore/_tracking/logging_mixin.py", "azuremlcore/_tracking/offline_run.py",
                   "azuremlmlflow/_job.py"):
        ast.parse((root / module).read_text(), feature_version=(3, 8))
