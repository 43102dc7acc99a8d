"""Jobs submitted to a server workspace run on the server's host and log back over HTTP with a run token."""
from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest
import requests

from conftest_server import LiveServer

pytestmark = pytest.mark.slow

SUB, RG = "s1", "rg"
ARM = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A live server with 2-second run tokens, and this process pointed at it as user 'alice' (Contributor)."""
    monkeypatch.delenv("AZUREML_RUN_TOKEN_FILE", raising=False)
    srv = LiveServer(tmp_path / "server", run_token_lifetime_s=2)
    monkeypatch.setenv("AZUREMLCORE_ENDPOINT", srv.url)
    monkeypatch.setenv("AZUREMLCORE_TOKEN", srv.token("alice", "Contributor", f"/subscriptions/{SUB}"))
    yield srv
    srv.stop()


def _ws():  # type: ignore[no-untyped-def]
    from azuremlcore import Workspace

    return Workspace.create("jobs", subscription_id=SUB, resource_group=RG, exist_ok=True, show_output=False)


def _user_env():  # type: ignore[no-untyped-def]
    from azuremlcore import Environment

    env = Environment("user-managed")
    env.python.user_managed_dependencies = True
    return env


def _src(tmp_path: Path, script: str) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "main.py").write_text(textwrap.dedent(script))
    return src


def _submit(ws, src: Path, *args: str):  # type: ignore[no-untyped-def]
    from azuremlcore import Experiment, ScriptRunConfig

    return Experiment(ws, "exp").submit(ScriptRunConfig(source_directory=str(src), script="main.py",
                                                        arguments=list(args), environment=_user_env()))


LOGGER = """\
    import os, sys, time
    import mlflow, requests
    from azuremlcore import Run
    from azuremlcore._client.http import ServerAuthError

    other = sys.argv[1]
    run = Run.get_context()
    endpoint = os.environ["AZUREML_SERVICE_ENDPOINT"]
    first = os.environ["AZUREML_RUN_TOKEN"]
    token_file = os.environ["AZUREML_RUN_TOKEN_FILE"]
    print("endpoint", endpoint, "uri", os.environ["MLFLOW_TRACKING_URI"].split("/mlflow/")[0], flush=True)
    seen = set()
    for i in range(20):                      # ~10 s: many times the 2 s token lifetime
        run.log("tick", i)
        mlflow.log_metric("mtick", i, step=i)
        seen.add(open(token_file).read())
        time.sleep(0.5)
    print("distinct tokens", len(seen), flush=True)
    stale = requests.get(endpoint + "/api/v1/workspaces", headers={"Authorization": "Bearer " + first})
    print("first token now", stale.status_code, flush=True)
    try:
        run.experiment.workspace._store.set_run_attributes(other, "tag", {"hijacked": "yes"})
        print("other run: written", flush=True)
    except ServerAuthError as exc:
        print("other run: refused", exc.http_status, flush=True)
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/result.txt", "w") as f:
        f.write("done " + run.id)
"""


def test_submitted_run_runs_on_the_server_and_logs_back_with_a_renewed_token(server, tmp_path, capsys):  # type: ignore[no-untyped-def]
    from azuremlcore import Experiment

    ws = _ws()
    other = Experiment(ws, "exp").start_logging()
    other.complete()
    run = _submit(ws, _src(tmp_path, LOGGER), other.id)
    details = run.wait_for_completion(show_output=True, raise_on_error=False)
    out = capsys.readouterr().out
    assert details["status"] == "Completed", out
    # Streamed to this client from the server's log file, as it was written.
    assert f"endpoint {server.url} uri azureml://127.0.0.1:{server.port}" in out
    # Every point arrived although the script outlived its first token several times over (refresh works) ...
    metrics = run.get_metrics()
    assert metrics["tick"] == list(range(20))
    assert metrics["mtick"] == list(range(20))
    assert int(out.split("distinct tokens ")[1].split()[0]) >= 3
    # ... and renewal was needed: the token the script started with has expired.
    assert "first token now 401" in out
    # The run token cannot touch another run.
    assert "other run: refused 403" in out
    assert "hijacked" not in other.get_tags()
    # It ran on the server's host: working folder and outputs there, the outputs uploaded to the run.
    rec = server.state.store.get_run(run.id)
    assert rec.details["_workingDirectory"].startswith(str(server.config.data_dir))
    assert "outputs/result.txt" in run.get_file_names()
    run.download_file("outputs/result.txt", str(tmp_path / "result.txt"))
    assert (tmp_path / "result.txt").read_text() == f"done {run.id}"
    # No token in the run's details; the token file is gone once the run ended.
    assert "eyJ" not in json.dumps(details) and "eyJ" not in json.dumps(rec.details)
    assert not (server.config.data_dir / "run-tokens" / f"{run.id}.token").exists()


SLEEPER = """\
    import os, time
    print("started", os.getpid(), flush=True)
    while True:
        time.sleep(0.2)
"""


def test_cancel_from_the_client_stops_the_script_on_the_server(server, tmp_path):  # type: ignore[no-untyped-def]
    from azuremlcore._execution.slots import pid_alive

    ws = _ws()
    run = _submit(ws, _src(tmp_path, SLEEPER))
    deadline = time.monotonic() + 60
    log = ""
    while "started" not in log:
        assert time.monotonic() < deadline, "the script did not start"
        time.sleep(0.1)
        log = run._artifacts.read_from(run._container, "user_logs/std_log.txt", 0).decode()
    pid = int(log.split("started ")[1].split()[0])
    assert pid_alive(pid)
    base = f"{server.url}{ARM}/jobs/runs/{run.id}"
    # Starting it twice is refused; a Reader may neither start nor cancel it.
    alice = {"Authorization": "Bearer " + __import__("os").environ["AZUREMLCORE_TOKEN"]}
    again = requests.post(base + "/start", headers=alice)
    assert again.status_code == 400 and "already started" in again.json()["message"]
    reader = {"Authorization": "Bearer " + server.token("rita", "Reader", "/")}
    assert requests.post(base + "/cancel", headers=reader).status_code == 403
    assert requests.post(base + "/start", headers=reader).status_code == 403
    assert run.get_status() == "Running"

    run.cancel()
    assert run.get_status() == "Canceled"
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)


def test_start_refuses_runs_that_are_not_submitted_scripts(server):  # type: ignore[no-untyped-def]
    from azuremlcore import Experiment

    run = Experiment(_ws(), "exp").start_logging()
    alice = {"Authorization": "Bearer " + __import__("os").environ["AZUREMLCORE_TOKEN"]}
    r = requests.post(f"{server.url}{ARM}/jobs/runs/{run.id}/start", headers=alice)
    assert r.status_code == 400 and "only submitted script runs" in r.json()["message"]
    assert run.get_status() == "Running"


def test_a_runner_killed_on_the_server_is_reported_failed(server, tmp_path):  # type: ignore[no-untyped-def]
    import os
    import signal

    from azuremlcore.exceptions import ActivityFailedException

    ws = _ws()
    run = _submit(ws, _src(tmp_path, SLEEPER))
    deadline = time.monotonic() + 60
    while "scriptPgid" not in (server.state.store.get_run(run.id).details.get("_runner") or {}):
        assert time.monotonic() < deadline, "the script did not start"
        time.sleep(0.05)
    runner = server.state.store.get_run(run.id).details["_runner"]
    os.kill(runner["pid"], signal.SIGKILL)  # as the OOM killer would
    os.killpg(runner["scriptPgid"], signal.SIGKILL)
    deadline = time.monotonic() + 30  # polled with a deadline: without the fix it would stay Running forever
    while run.get_status() not in ("Failed", "Completed", "Canceled") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert run.get_status() == "Failed"
    with pytest.raises(ActivityFailedException, match="RunnerDied"):
        run.wait_for_completion()


def test_dataset_arguments_are_refused_clearly_before_any_run(server, tmp_path):  # type: ignore[no-untyped-def]
    from azuremlcore import Experiment, ScriptRunConfig
    from azuremlcore.exceptions import UserErrorException

    ws = _ws()
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text("print('hi')\n")
    exp = Experiment(ws, "data-args")
    config = ScriptRunConfig(source_directory=str(src), script="train.py",
                             arguments=["--data", ws.get_default_datastore().path("x").as_mount()])
    with pytest.raises(UserErrorException, match="not supported yet for runs on a workspace server"):
        exp.submit(config)
    assert list(exp.get_runs()) == []
