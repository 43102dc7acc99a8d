"""Run leases: a run whose runner dies without a word (killed, after a server restart) ends Failed with a reason."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from conftest_server import LiveServer


def _store_with_run(tmp_path: Path, **details):  # type: ignore[no-untyped-def]
    from azuremlcore._store.records import RunRecord, WorkspaceRecord
    from azuremlcore._store.sql import SqlWorkspaceStore

    store = SqlWorkspaceStore(f"sqlite:///{tmp_path / 'ws.db'}")
    ws = store.create_workspace(WorkspaceRecord(id="", subscription_id="s", resource_group="rg", name="w"))
    exp = store.create_experiment(ws.id, "e")
    store.create_run(RunRecord(id="r1", workspace_id=ws.id, experiment_id=exp.id, status="Running",
                               type="azureml.scriptrun", details=details))
    return store


def test_a_lapsed_lease_fails_the_run_with_a_reason(tmp_path: Path) -> None:
    from azuremlcore._execution import lease

    past = int(time.time() * 1000) - 1000
    store = _store_with_run(tmp_path, _runner={"pid": 1, "host": "another-host"},
                            _lease={"expires": past, "holder": "another-host:1"})
    assert lease.sweep(store) == ["r1"]
    rec = store.get_run("r1")
    assert rec.status == "Failed" and rec.end_time is not None
    error = rec.details["error"]["error"]
    assert error["code"] == lease.LAPSED_CODE and "stopped renewing its lease" in error["message"]
    assert lease.sweep(store) == []  # ended runs are left alone


def test_a_runner_that_died_after_a_cancel_request_leaves_the_run_canceled(tmp_path: Path) -> None:
    """A run cancelled while its runner was still starting: SIGTERM killed the runner before it could record
    Canceled, and the check for dead runners (the server's reaper thread) must not call that a failure."""
    import subprocess
    import sys

    from azuremlcore._execution.control import record_if_runner_died

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    store = _store_with_run(tmp_path, _runner={"pid": gone.pid})
    store.update_run("r1", status="CancelRequested")
    rec = record_if_runner_died(store, store.get_run("r1"))
    assert rec.status == "Canceled" and "error" not in rec.details and rec.end_time is not None


def test_a_dead_runners_script_is_stopped_with_the_run(tmp_path: Path) -> None:
    """The runner killed outright: the run is recorded Failed and its script (own process group) stopped."""
    import subprocess
    import sys

    from azuremlcore._execution.control import record_if_runner_died

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    script = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        store = _store_with_run(tmp_path, _runner={"pid": gone.pid, "scriptPid": script.pid,
                                                   "scriptPgid": script.pid})
        rec = record_if_runner_died(store, store.get_run("r1"))
        assert rec.status == "Failed" and rec.details["error"]["error"]["code"] == "RunnerDied"
        assert script.wait(timeout=10) == -signal.SIGKILL
    finally:
        if script.poll() is None:
            script.kill()


def test_a_live_lease_is_renewed_and_kept(tmp_path: Path) -> None:
    from azuremlcore._execution import lease

    store = _store_with_run(tmp_path, _runner={"pid": 1, "host": "another-host"})
    held = lease.Lease(store, "r1", seconds=30).start()
    try:
        expires = store.get_run("r1").details["_lease"]["expires"]
        assert expires > time.time() * 1000 + 20_000
        assert lease.sweep(store) == [] and store.get_run("r1").status == "Running"
    finally:
        held.stop()


@pytest.mark.slow
def test_restart_then_kill_the_runner_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server restarts while a job runs (its runner lives on, nobody waits on it); then the runner is
    killed outright. The restarted server marks the run Failed, saying why."""
    from test_server_jobs import ARM, RG, SLEEPER, SUB, _src, _submit  # noqa: F401

    monkeypatch.setenv("AZUREMLCORE_LEASE_SECONDS", "2")  # the runner inherits it: renews every 0.7 s
    monkeypatch.delenv("AZUREML_RUN_TOKEN_FILE", raising=False)
    data = tmp_path / "server"
    srv = LiveServer(data, lease_sweep_s=0.3)
    try:
        monkeypatch.setenv("AZUREMLCORE_ENDPOINT", srv.url)
        monkeypatch.setenv("AZUREMLCORE_TOKEN", srv.token("alice", "Contributor", f"/subscriptions/{SUB}"))
        from azuremlcore import Workspace

        ws = Workspace.create("jobs", subscription_id=SUB, resource_group=RG, exist_ok=True, show_output=False)
        run = _submit(ws, _src(tmp_path, SLEEPER))
        deadline = time.monotonic() + 90
        while "scriptPgid" not in (srv.state.store.get_run(run.id).details.get("_runner") or {}):
            assert time.monotonic() < deadline, "the script did not start"
            time.sleep(0.05)
        assert "_lease" in srv.state.store.get_run(run.id).details
    finally:
        srv.stop()
    runner = None
    again = LiveServer(data, lease_sweep_s=0.3)
    try:
        runner = again.state.store.get_run(run.id).details["_runner"]
        assert again.state.store.get_run(run.id).status == "Running"  # a live runner is left alone
        os.kill(runner["pid"], signal.SIGKILL)  # as the OOM killer would
        deadline = time.monotonic() + 60  # polled with a deadline: before leases it stayed Running forever
        while again.state.store.get_run(run.id).status == "Running" and time.monotonic() < deadline:
            time.sleep(0.1)
        rec = again.state.store.get_run(run.id)
        assert rec.status == "Failed"
        assert rec.details["error"]["error"]["code"] in ("RunnerDied", "RunnerLeaseExpired")
        assert "runner" in rec.details["error"]["error"]["message"]
    finally:
        again.stop()
        if runner:
            for pg in (runner.get("scriptPgid"), runner.get("pgid")):
                try:
                    os.killpg(int(pg), signal.SIGKILL)
                except (ProcessLookupError, TypeError):
                    pass


@pytest.mark.slow
def test_a_runner_gone_while_the_server_was_down_is_failed_at_start(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from test_server_jobs import RG, SLEEPER, SUB, _src, _submit

    monkeypatch.delenv("AZUREML_RUN_TOKEN_FILE", raising=False)
    data = tmp_path / "server"
    srv = LiveServer(data)
    try:
        monkeypatch.setenv("AZUREMLCORE_ENDPOINT", srv.url)
        monkeypatch.setenv("AZUREMLCORE_TOKEN", srv.token("alice", "Contributor", f"/subscriptions/{SUB}"))
        from azuremlcore import Workspace

        ws = Workspace.create("jobs", subscription_id=SUB, resource_group=RG, exist_ok=True, show_output=False)
        run = _submit(ws, _src(tmp_path, SLEEPER))
        deadline = time.monotonic() + 90
        while "scriptPgid" not in (srv.state.store.get_run(run.id).details.get("_runner") or {}):
            assert time.monotonic() < deadline, "the script did not start"
            time.sleep(0.05)
        runner = srv.state.store.get_run(run.id).details["_runner"]
    finally:
        srv.stop()
    os.kill(runner["pid"], signal.SIGKILL)
    os.killpg(runner["scriptPgid"], signal.SIGKILL)
    from azuremlcore._execution.slots import pid_alive

    deadline = time.monotonic() + 10
    while pid_alive(runner["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    again = LiveServer(data)
    try:
        deadline = time.monotonic() + 30
        while again.state.store.get_run(run.id).status == "Running" and time.monotonic() < deadline:
            time.sleep(0.1)
        rec = again.state.store.get_run(run.id)
        assert rec.status == "Failed" and rec.details["error"]["error"]["code"] == "RunnerDied"
    finally:
        again.stop()


def test_the_sweep_reads_only_submitted_runs(tmp_path: Path) -> None:
    """MLflow's and start_logging's runs have no runner: the sweep's query leaves them out (a server with
    thousands of them left Running read them all, with their attributes, every 15 s)."""
    from azuremlcore._execution import lease
    from azuremlcore._store.records import RunRecord

    past = int(time.time() * 1000) - 1000
    store = _store_with_run(tmp_path, _runner={"pid": 1, "host": "another-host"},
                            _lease={"expires": past, "holder": "another-host:1"})
    exp_id = store.get_run("r1").experiment_id
    store.create_run(RunRecord(id="m1", workspace_id=store.get_run("r1").workspace_id, experiment_id=exp_id,
                               status="Running", type="azureml.interactive",
                               details={"_lease": {"expires": past, "holder": "another-host:1"}}))
    assert lease.sweep(store) == ["r1"]
    assert store.get_run("m1").status == "Running"
