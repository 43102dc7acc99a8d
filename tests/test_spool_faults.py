"""A job on a server keeps logging through a network outage: its spool is replayed, exactly once.

The server runs the job on its own host; the job reaches the server through a TCP proxy in this
test (the server's `job_endpoint`), which the test takes down and brings back. The runner itself
writes to the server's database directly, so only the script's logging sees the outage.
"""
from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from conftest_server import LiveServer
from tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

SUB, RG = "s1", "rg"
N = 10_000
# Longer than any retry of the HTTP client (about 6 s of connection retries) and than the writer's
# old in-memory budget of 20 tries; the job's exit wait is set below it, so (b) leaves a spool behind.
OUTAGE_S = 15.0

LOGGER = """
    import os, sys, time
    from azuremlcore import Run

    progress, pause = sys.argv[1], float(sys.argv[2])
    run = Run.get_context()
    with open(progress, "a", buffering=1) as out:
        for i in range(%d):
            run.log("v", i)
            if i %% 100 == 99:
                out.write(f"{i + 1}\\n")
                time.sleep(pause)
    run.tag("done", "yes")
    if sys.argv[3:] == ["then-wait"]:
        time.sleep(3600)  # wait to be killed
    while not os.path.exists(progress + ".back"):  # the outage is in the middle: the network comes back
        time.sleep(0.1)
""" % N


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A live server whose jobs log back through a proxy; this process talks to the server directly."""
    monkeypatch.delenv("AZUREML_RUN_TOKEN_FILE", raising=False)
    monkeypatch.setenv("AZUREMLCORE_SPOOL_EXIT_WAIT_S", "5")  # inherited by the jobs the server starts
    srv = LiveServer(tmp_path / "server")
    proxy = TcpProxy(srv.port)
    srv.config.extra["job_endpoint"] = proxy.url
    monkeypatch.setenv("AZUREMLCORE_ENDPOINT", srv.url)
    monkeypatch.setenv("AZUREMLCORE_TOKEN", srv.token("alice", "Contributor", f"/subscriptions/{SUB}"))
    srv.proxy = proxy  # type: ignore[attr-defined]
    yield srv
    proxy.close()
    srv.stop()


def _submit(tmp_path: Path, *args: str) -> Any:
    from azuremlcore import Environment, Experiment, ScriptRunConfig, Workspace

    ws = Workspace.create("spool", subscription_id=SUB, resource_group=RG, exist_ok=True, show_output=False)
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "main.py").write_text(textwrap.dedent(LOGGER))
    env = Environment("user-managed")
    env.python.user_managed_dependencies = True
    return Experiment(ws, "exp").submit(ScriptRunConfig(source_directory=str(src), script="main.py",
                                                        arguments=list(args), environment=env))


def _logged(progress: Path) -> int:
    lines = progress.read_text().split() if progress.exists() else []
    return int(lines[-1]) if lines else 0


def _assert_exactly_once(run: Any) -> None:
    values = run.get_metrics()["v"]
    assert len(values) == N, f"{len(values)} values stored, {N} logged"
    assert values == list(range(N)), "values out of order, missing or twice"


def test_an_outage_longer_than_any_retry_loses_nothing_and_doubles_nothing(server, tmp_path, wait_until):  # type: ignore[no-untyped-def]
    progress = tmp_path / "progress.txt"
    run = _submit(tmp_path, str(progress), "0.2")  # 10,000 points over ~20 s
    wait_until(lambda: _logged(progress) >= 2000, timeout=120, what="2,000 points logged")
    server.proxy.down()
    at_down = _logged(progress)
    time.sleep(OUTAGE_S)
    during = _logged(progress) - at_down
    assert during >= 3000, f"the script stalled during the outage ({during} points logged)"
    stored_during = len(run.get_metrics().get("v", []))
    server.proxy.up()
    Path(f"{progress}.back").touch()
    run.wait_for_completion(raise_on_error=True)
    assert stored_during < at_down + during, "the outage did not hold anything back"
    _assert_exactly_once(run)
    assert run.get_tags()["done"] == "yes"


def test_a_job_killed_during_an_outage_is_finished_by_aml_sync_twice_without_duplicates(server, tmp_path, wait_until, capsys):  # type: ignore[no-untyped-def]
    from azuremlcore._cli.main import main

    progress = tmp_path / "progress.txt"
    run = _submit(tmp_path, str(progress), "0.01", "then-wait")
    wait_until(lambda: _logged(progress) >= 3000, timeout=120, what="3,000 points logged")
    server.proxy.down()
    wait_until(lambda: _logged(progress) >= N, timeout=120, what="every point logged")
    time.sleep(1.0)  # the writer spools within 0.2 s
    script_pid = wait_until(lambda: run._store.get_run(run.id).details.get("_runner", {}).get("scriptPid"))
    os.kill(script_pid, signal.SIGKILL)
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Failed"
    stored = len(run.get_metrics().get("v", []))
    assert stored < N, "nothing was left to sync"
    server.proxy.up()  # the proxy is irrelevant now: aml sync talks to the server directly

    capsys.readouterr()
    assert main(["sync", "-w", "spool", "-g", RG, "-o", "json"]) == 0
    first = [r for r in json.loads(capsys.readouterr().out) if r["runId"] == run.id]
    assert first and first[0]["result"] == "uploaded" and first[0]["points"] >= N - stored, first
    _assert_exactly_once(run)
    assert main(["sync", "-w", "spool", "-g", RG, "-o", "json"]) == 0
    second = [r for r in json.loads(capsys.readouterr().out) if r["runId"] == run.id]
    assert second[0]["result"] == "up to date" and second[0]["points"] == 0, second
    _assert_exactly_once(run)


MLFLOW_LOGGER = """
    import os, sys, time
    import mlflow

    progress = sys.argv[1]
    mlflow.log_param("lr", "0.1")
    with open(progress, "a", buffering=1) as out:
        for i in range(%d):
            mlflow.log_metric("s", i, step=i)
            mlflow.log_metric("a", i, step=i, synchronous=False)
            if i %% 10 == 9:
                out.write(f"{(i + 1) * 10}\\n")
                time.sleep(0.1)
    mlflow.set_tag("done", "yes")
    mlflow.log_param("lr", "0.1")  # the same value again: fine
    while not os.path.exists(progress + ".back"):  # the outage is in the middle: the network comes back
        time.sleep(0.1)
""" % (N // 10)


def test_mlflow_in_a_job_logs_through_an_outage_exactly_once(server, tmp_path, wait_until):  # type: ignore[no-untyped-def]
    pytest.importorskip("mlflow")
    global LOGGER
    progress = tmp_path / "progress.txt"
    saved, LOGGER = LOGGER, MLFLOW_LOGGER
    try:
        run = _submit(tmp_path, str(progress))
    finally:
        LOGGER = saved
    wait_until(lambda: _logged(progress) >= 2000, timeout=120, what="200 steps logged")
    server.proxy.down()
    at_down = _logged(progress)
    time.sleep(OUTAGE_S)
    assert _logged(progress) - at_down >= 2000, "the script stalled during the outage"
    server.proxy.up()
    Path(f"{progress}.back").touch()
    run.wait_for_completion(raise_on_error=True)
    metrics = run.get_metrics()
    for key in ("s", "a"):
        assert metrics[key] == list(range(N // 10)), f"{key}: missing, out of order or twice"
    assert run.get_tags()["done"] == "yes"
    assert run._refresh().params == {"lr": "0.1"}

