"""Submitted script runs, end to end: real runner processes, real scripts, real process trees."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from azuremlcore import Environment, ScriptRunConfig
from azuremlcore._execution.slots import pid_alive
from azuremlcore.conda_dependencies import CondaDependencies
from azuremlcore.exceptions import ActivityFailedException, SnapshotException

pytestmark = pytest.mark.slow


def _user_env() -> Environment:
    env = Environment("user-managed")
    env.python.user_managed_dependencies = True
    return env


def _src(tmp_path: Path, files: dict[str, str], name: str = "src") -> Path:
    src = tmp_path / name
    src.mkdir()
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(textwrap.dedent(text))
    return src


def _wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


TRAIN = """\
    import argparse, os, sys
    import six                       # only in the system-managed environment
    from helper import greet         # a sibling module of the source folder
    from azuremlcore import Run

    p = argparse.ArgumentParser()
    p.add_argument("--alpha", type=float)
    p.add_argument("--n", type=int)
    p.add_argument("--name")
    a = p.parse_args()
    run = Run.get_context()
    print(greet(a.name), "alpha", a.alpha, "n", a.n, flush=True)
    for i in range(a.n):
        run.log("loss", 1.0 / (i + 1))
    run.log("alpha", a.alpha)
    os.makedirs("outputs/sub", exist_ok=True)
    with open("outputs/sub/model.txt", "w") as f:
        f.write(f"{run.id} {os.environ['MLFLOW_RUN_ID']} {os.environ['AZUREML_ARM_PROJECT_NAME']} {os.environ['TEAM']}")
    print("python", sys.executable, "six", six.__version__, "cwd", os.getcwd(), flush=True)
"""


def test_script_run_end_to_end(experiment, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    src = _src(tmp_path, {"train.py": TRAIN, "helper.py": "def greet(n):\n    return 'hello ' + n\n",
                          ".amlignore": "data/\n*.bin\n", "data/big.csv": "x\n" * 100, "weights.bin": "0"})
    env = Environment("six-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["six"])
    config = ScriptRunConfig(source_directory=str(src), script="train.py", compute_target="local", environment=env,
                             arguments=["--alpha", 0.1, "--n", 3, "--name", "x"])
    config.run_config.environment_variables = {"TEAM": "blue"}
    run = experiment.submit(config, tags={"team": "a"})
    assert run.get_status() in ("Queued", "Preparing", "Running", "Completed")
    assert run.get_tags() == {"team": "a"}

    details = run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert "hello x alpha 0.1 n 3" in out, out
    assert details["status"] == "Completed"
    assert details["runDefinition"]["arguments"] == ["--alpha", "0.1", "--n", "3", "--name", "x"]
    assert details["runDefinition"]["environment"]["name"] == "six-env"
    metrics = run.get_metrics()
    assert metrics["loss"] == [1.0, 0.5, 1.0 / 3] and metrics["alpha"] == 0.1
    names = run.get_file_names()
    assert "outputs/sub/model.txt" in names and "user_logs/std_log.txt" in names
    run.download_file("outputs/sub/model.txt", str(tmp_path / "model.txt"))
    assert (tmp_path / "model.txt").read_text() == f"{run.id} {run.id} {experiment.name} blue"
    frozen = tmp_path / "frozen.txt"
    run.download_file("azureml-logs/environment_frozen.txt", str(frozen))
    assert "six==" in frozen.read_text()

    # The script ran on a copy of the snapshot, with the environment's own interpreter.
    workdir = Path(run.get_details()["runDefinition"]["sourceDirectory"])
    assert workdir == src.resolve()
    log = run._artifacts.read_from(run._container, "user_logs/std_log.txt", 0).decode()
    assert f"cwd {src}" not in log and "cwd " in log
    assert f"python {sys.executable} " not in log
    assert not (src / "outputs").exists()

    # .amlignore honoured; the snapshot restores as a zip of the source.
    restored = run.restore_snapshot(path=str(tmp_path / "snap"))
    with zipfile.ZipFile(restored) as zf:
        assert sorted(zf.namelist()) == [".amlignore", "helper.py", "train.py"]
    assert run.get_environment().name == "six-env"


def test_failing_script_records_error_and_raises(experiment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = _src(tmp_path, {"bad.py": "print('step 1', flush=True)\nraise ValueError('bad learning rate')\n"})
    run = experiment.submit(ScriptRunConfig(source_directory=str(src), script="bad.py", environment=_user_env()))
    with pytest.raises(ActivityFailedException, match="bad learning rate"):
        run.wait_for_completion()
    details = run.get_details()
    assert details["status"] == "Failed"
    message = details["error"]["error"]["message"]
    assert details["error"]["error"]["code"] == "UserError"
    assert message.startswith("ValueError: bad learning rate") and "exit code 1" in message and "step 1" in message
    assert run.wait_for_completion(raise_on_error=False)["status"] == "Failed"


SLEEPER = """\
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    with open(sys.argv[1], "w") as f:
        f.write(str(child.pid))
    print("ready", flush=True)
    time.sleep(300)
"""


def test_cancel_stops_the_whole_process_tree(experiment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = _src(tmp_path, {"sleep.py": SLEEPER})
    pid_file = tmp_path / "child.pid"
    run = experiment.submit(ScriptRunConfig(source_directory=str(src), script="sleep.py",
                                            arguments=[str(pid_file)], environment=_user_env()))
    _wait_for(lambda: pid_file.is_file() and pid_file.read_text())
    child = int(pid_file.read_text())
    runner = run._refresh().details["_runner"]
    assert pid_alive(child) and pid_alive(runner["scriptPid"])
    assert run.get_status() == "Running"
    run.cancel()
    assert run.get_status() == "Canceled"
    _wait_for(lambda: not pid_alive(child), timeout=10)
    assert not pid_alive(runner["scriptPid"])
    _wait_for(lambda: not pid_alive(runner["pid"]), timeout=10)
    assert run.get_status() == "Canceled"


def test_cancel_right_after_submit(experiment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = _src(tmp_path, {"hello.py": "import time; time.sleep(30)\n"})
    run = experiment.submit(ScriptRunConfig(source_directory=str(src), script="hello.py", environment=_user_env()))
    run.cancel()
    assert run.get_status() == "Canceled"
    assert run.wait_for_completion()["status"] == "Canceled"


def test_max_run_duration_stops_the_script(experiment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = _src(tmp_path, {"slow.py": "import time\nprint('started', flush=True)\ntime.sleep(120)\n"})
    run = experiment.submit(ScriptRunConfig(source_directory=str(src), script="slow.py", environment=_user_env(),
                                            max_run_duration_seconds=2))
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert "max_run_duration_seconds=2" in details["error"]["error"]["message"]
    assert "started" in details["error"]["error"]["message"]


def test_user_status_is_never_overwritten(experiment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = _src(tmp_path, {"wait.py": "import os, sys, time\nwhile not os.path.exists(sys.argv[1]): time.sleep(0.05)\n"})
    go = tmp_path / "go"
    run = experiment.submit(ScriptRunConfig(source_directory=str(src), script="wait.py", arguments=[str(go)],
                                            environment=_user_env()))
    _wait_for(lambda: run.get_status() == "Running")
    run.fail(error_details="stopped by hand")
    go.write_text("")
    runner_pid = run._refresh().details["_runner"]["pid"]
    _wait_for(lambda: not pid_alive(runner_pid))
    details = run.get_details()
    assert details["status"] == "Failed" and details["error"]["error"]["message"] == "stopped by hand"


SUBMITTER = """\
    import sys, time
    from azuremlcore import Workspace, Experiment, ScriptRunConfig, Environment
    ws = Workspace.create(name="ws1", subscription_id="00000000-0000-0000-0000-000000000001", resource_group="rg",
                          exist_ok=True, show_output=False)
    env = Environment("um"); env.python.user_managed_dependencies = True
    run = Experiment(ws, "exp").submit(ScriptRunConfig(source_directory=sys.argv[1], script="wait.py",
                                                       arguments=[sys.argv[2]], environment=env))
    print(run.id, flush=True)
    time.sleep(600)
"""


def test_run_survives_the_submitting_kernel(experiment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Run

    src = _src(tmp_path, {"wait.py": "import os, sys, time\nwhile not os.path.exists(sys.argv[1]): time.sleep(0.05)\n"
                                     "print('survived', flush=True)\n"})
    go = tmp_path / "go"
    kernel = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SUBMITTER), str(src), str(go)],
                              stdout=subprocess.PIPE, start_new_session=True, text=True)
    assert kernel.stdout is not None
    run_id = kernel.stdout.readline().strip()
    assert run_id, "the submitting process printed no run id"
    os.killpg(kernel.pid, signal.SIGKILL)  # what Jupyter does to a kernel's process group on restart
    kernel.wait()
    go.write_text("")
    run = Run.get(experiment.workspace, run_id)
    assert run.wait_for_completion()["status"] == "Completed"
    assert "survived" in run._artifacts.read_from(run._container, "user_logs/std_log.txt", 0).decode()


EXCLUSIVE = """\
    import os, sys, time
    busy, go = sys.argv[1], sys.argv[2]
    fd = os.open(busy, os.O_CREAT | os.O_EXCL | os.O_WRONLY)   # fails if another run holds the node
    print("started", flush=True)
    while not os.path.exists(go):
        time.sleep(0.05)
    os.close(fd)
    os.unlink(busy)
"""


def test_one_node_cluster_queues_the_second_run(experiment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore.compute import AmlCompute, ComputeTarget

    ws = experiment.workspace
    cluster = ComputeTarget.create(ws, "one-node", AmlCompute.provisioning_configuration(max_nodes=1))
    src = _src(tmp_path, {"exclusive.py": EXCLUSIVE})
    busy, go1, go2 = tmp_path / "busy", tmp_path / "go1", tmp_path / "go2"
    first = experiment.submit(ScriptRunConfig(source_directory=str(src), script="exclusive.py", compute_target=cluster,
                                              arguments=[str(busy), str(go1)], environment=_user_env()))
    _wait_for(lambda: first.get_status() == "Running")
    second = experiment.submit(ScriptRunConfig(source_directory=str(src), script="exclusive.py",
                                               compute_target="one-node", arguments=[str(busy), str(go2)],
                                               environment=_user_env()))
    _wait_for(lambda: second.get_detailed_status()["details"] is not None)
    assert second.get_status() == "Queued"
    assert "one-node" in second.get_detailed_status()["details"]
    assert cluster.get_status().current_node_count == 1
    third = experiment.submit(ScriptRunConfig(source_directory=str(src), script="exclusive.py",
                                              compute_target="one-node", arguments=[str(busy), str(go2)],
                                              environment=_user_env()))
    assert [r.id for r in cluster.get_active_runs()] == [third.id, second.id, first.id]
    third.cancel()  # a queued run is canceled without ever taking the node
    assert third.get_status() == "Canceled" and second.get_status() == "Queued"
    go1.write_text("")
    assert first.wait_for_completion()["status"] == "Completed"
    _wait_for(lambda: second.get_status() == "Running")
    go2.write_text("")
    assert second.wait_for_completion()["status"] == "Completed"
    assert first.get_details()["target"] == second.get_details()["target"] == "one-node"


def test_snapshot_over_the_limit_creates_no_run(experiment, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    src = _src(tmp_path, {"train.py": "print(1)\n", "data.csv": "x" * 5000})
    monkeypatch.setenv("AZUREMLCORE_SNAPSHOT_LIMIT_BYTES", "1000")
    with pytest.raises(SnapshotException, match=r"\.amlignore"):
        experiment.submit(ScriptRunConfig(source_directory=str(src), script="train.py", environment=_user_env()))
    assert list(experiment.get_runs()) == []
    (src / ".amlignore").write_text("*.csv\n")
    run = experiment.submit(ScriptRunConfig(source_directory=str(src), script="train.py", environment=_user_env()))
    assert run.wait_for_completion()["status"] == "Completed"


def test_command_and_nested_script(experiment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = _src(tmp_path, {"pkg/util.py": "X = 41\n",
                          "jobs/train.py": "from pkg.util import X\nimport sys\nprint('value', X + int(sys.argv[1]))\n"})
    run = experiment.submit(ScriptRunConfig(source_directory=str(src), script="jobs/train.py", arguments=[1],
                                            environment=_user_env()))
    run.wait_for_completion()
    assert "value 42" in run._artifacts.read_from(run._container, "user_logs/std_log.txt", 0).decode()
    cmd = experiment.submit(ScriptRunConfig(source_directory=str(src), command="echo from-shell $AZUREML_RUN_ID",
                                            environment=_user_env()))
    cmd.wait_for_completion()
    assert f"from-shell {cmd.id}" in cmd._artifacts.read_from(cmd._container, "user_logs/std_log.txt", 0).decode()


def test_plain_mlflow_in_the_script_logs_into_the_run(experiment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("mlflow")
    src = _src(tmp_path, {"ml.py": """\
        import os, mlflow
        print("uri", os.environ.get("MLFLOW_TRACKING_URI"), flush=True)
        with mlflow.start_run() as r:
            mlflow.log_metric("rmse", 0.25)
            print("mlflow run", r.info.run_id, flush=True)
    """})
    run = experiment.submit(ScriptRunConfig(source_directory=str(src), script="ml.py", environment=_user_env()))
    details = run.wait_for_completion(raise_on_error=False)
    log = run._artifacts.read_from(run._container, "user_logs/std_log.txt", 0).decode()
    assert details["status"] == "Completed", log
    assert f"mlflow run {run.id}" in log
    assert run.get_metrics()["rmse"] == 0.25


def test_runner_killed_outright_is_reported_failed(experiment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = _src(tmp_path, {"sleep.py": SLEEPER})
    pid_file = tmp_path / "child.pid"
    run = experiment.submit(ScriptRunConfig(source_directory=str(src), script="sleep.py",
                                            arguments=[str(pid_file)], environment=_user_env()))
    _wait_for(lambda: pid_file.is_file() and pid_file.read_text())
    runner = run._refresh().details["_runner"]
    os.kill(runner["pid"], signal.SIGKILL)  # as the OOM killer would
    os.killpg(runner["scriptPgid"], signal.SIGKILL)
    _wait_for(lambda: not pid_alive(runner["pid"]), timeout=10)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed" and details["error"]["error"]["code"] == "RunnerDied"
