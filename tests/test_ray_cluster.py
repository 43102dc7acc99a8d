"""Runs on a real two-node Ray cluster on loopback (head 127.0.0.2, worker 127.0.0.3), started once for the suite.

A script with a pip dependency logging with `run.log` and MLflow (embedded workspace and workspace
server), a two-process PyTorchConfiguration job whose processes land on both nodes and meet over
sockets at MASTER_ADDR:MASTER_PORT (plain Python: no torch wheel is needed), a cancel, a timeout, a
job failing on one rank, and an environment the cluster cannot build (conda packages, no conda). The cluster is stopped at the end and
no process of it is left. Needs `ray[default]` (`.ci/install-ray.sh`); skipped without it, except in CI.
"""
from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from ray_cluster import RayCluster, ray_binary

pytestmark = [pytest.mark.slow, pytest.mark.ray]


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """One two-node cluster for the whole suite; stopped (every process of it) afterwards."""
    if ray_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("ray is not installed: .ci/run installs it with .ci/install-ray.sh")
        pytest.skip(reason="ray not installed: pip install '.[ray]' (or bash .ci/install-ray.sh) to run the Ray suite")
    cluster = RayCluster(cpus_per_node=2).start()
    yield cluster
    cluster.stop()
    assert cluster.leftovers() == [], "processes of the Ray cluster were left running"


@pytest.fixture
def target(workspace, ray_cluster):  # type: ignore[no-untyped-def]
    """The cluster attached to the test's embedded workspace."""
    from azuremlcore.compute import ComputeTarget, RayCompute

    return ComputeTarget.attach(workspace, "ray", RayCompute.attach_configuration(address=ray_cluster.address))


def _user_env():  # type: ignore[no-untyped-def]
    from azuremlcore import Environment

    env = Environment("cluster-python")
    env.python.user_managed_dependencies = True
    return env


def _submit(experiment, target, tmp_path: Path, script: str, env=None, **kwargs: Any):  # type: ignore[no-untyped-def]
    from azuremlcore import ScriptRunConfig

    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "job.py").write_text(textwrap.dedent(script))
    arguments = kwargs.pop("arguments", [])
    config = ScriptRunConfig(source_directory=str(src), script="job.py", arguments=arguments, compute_target=target,
                             environment=env if env is not None else _user_env(), **kwargs)
    return experiment.submit(config)


TRAIN = """\
    import argparse, os
    import mlflow, six
    from azuremlcore import Run

    p = argparse.ArgumentParser(); p.add_argument("--epochs", type=int); a = p.parse_args()
    run = Run.get_context()
    for i in range(a.epochs):
        run.log("loss", 1.0 / (i + 1))
        print("epoch", i, flush=True)
    mlflow.log_metric("acc", 0.75)
    os.makedirs("outputs", exist_ok=True)
    open("outputs/model.txt", "w").write("weights")
    print("six", six.__version__, "cwd", os.getcwd(), flush=True)
"""


def test_attach_sees_both_nodes(target) -> None:
    status = target.get_status()
    assert status.current_node_count == 2
    assert sorted(n["node_ip"] for n in status.nodes) == ["127.0.0.2", "127.0.0.3"]
    assert status.resources["CPU"] == 4.0 and status.ray_version


def test_a_script_with_a_pip_dependency_logs_into_its_run(experiment, target, tmp_path, capsys) -> None:
    from azuremlcore import Environment
    from azuremlcore.conda_dependencies import CondaDependencies

    env = Environment("with-six")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["six"])
    run = _submit(experiment, target, tmp_path, TRAIN, env=env, arguments=["--epochs", 3])
    run.wait_for_completion(show_output=True)
    shown = capsys.readouterr().out
    assert "epoch 2" in shown and "Ray cluster at" in shown
    assert run.get_status() == "Completed"
    metrics = run.get_metrics()
    assert metrics["loss"] == [1.0, 0.5, 1.0 / 3] and metrics["acc"] == 0.75
    assert "outputs/model.txt" in run.get_file_names()
    log = run._artifacts.open(run._container, "user_logs/std_log.txt").read().decode()
    assert "runtime_resources/working_dir_files" in log  # the snapshot, unpacked by Ray, is the working folder


def test_a_two_process_pytorch_job_runs_on_both_nodes(experiment, target, tmp_path) -> None:
    from azuremlcore.runconfig import PyTorchConfiguration

    script = """\
        import os, socket, time
        from azuremlcore import Run
        keys = ["RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT"]
        env = {k: os.environ[k] for k in keys}
        rank, addr = int(env["RANK"]), (env["MASTER_ADDR"], int(env["MASTER_PORT"]))
        if rank == 0:   # a rendezvous as torch.distributed's TCP store makes one, with plain sockets
            srv = socket.create_server(addr)
            conn, _ = srv.accept()
            print("rank 0 heard:", conn.recv(100).decode(), flush=True)
            Run.get_context().log("heard", 1)
        else:
            for _ in range(300):
                try:
                    conn = socket.create_connection(addr, timeout=2)
                    break
                except OSError:
                    time.sleep(0.1)
            conn.sendall(b"hello from rank 1")
        print("layout", sorted(env.items()), flush=True)
    """
    run = _submit(experiment, target, tmp_path, script,
                  distributed_job_config=PyTorchConfiguration(process_count=2, node_count=2))
    run.wait_for_completion(raise_on_error=True)
    procs = run._refresh().details["_processes"]
    assert sorted(p["node"] for p in procs) == ["127.0.0.2", "127.0.0.3"]
    assert {p["nodeRank"] for p in procs} == {0, 1}
    names = run.get_file_names()
    assert {"user_logs/std_log_process_0.txt", "user_logs/std_log_process_1.txt"} <= set(names)
    rank0 = run._artifacts.open(run._container, "user_logs/std_log_process_0.txt").read().decode()
    rank1 = run._artifacts.open(run._container, "user_logs/std_log_process_1.txt").read().decode()
    assert "rank 0 heard: hello from rank 1" in rank0
    master = procs[0]["node"]
    assert f"('MASTER_ADDR', '{master}')" in rank1 and "('WORLD_SIZE', '2')" in rank1
    assert "('NODE_RANK', '1')" in rank1 and "('LOCAL_RANK', '0')" in rank1
    assert run.get_metrics()["heard"] == 1


def test_a_failing_rank_fails_the_run_and_stops_the_others(experiment, target, tmp_path) -> None:
    from azuremlcore.runconfig import PyTorchConfiguration

    script = """\
        import os, sys, time
        if os.environ["RANK"] == "1":
            print("rank 1 gives up", flush=True)
            sys.exit(7)
        time.sleep(120)
    """
    started = time.monotonic()
    run = _submit(experiment, target, tmp_path, script,
                  distributed_job_config=PyTorchConfiguration(process_count=2, node_count=2))
    run.wait_for_completion(raise_on_error=False)
    assert time.monotonic() - started < 100  # rank 0 was stopped, not waited for
    assert run.get_status() == "Failed"
    message = run.get_details()["error"]["error"]["message"]
    assert "Process 1 of 2" in message and "exit code 7" in message and "rank 1 gives up" in message


def test_cancel_stops_the_job(experiment, target, tmp_path) -> None:
    run = _submit(experiment, target, tmp_path, "import time\nprint('started', flush=True)\ntime.sleep(300)\n")
    deadline = time.monotonic() + 120
    while run.get_status() != "Running":
        assert time.monotonic() < deadline and run.get_status() not in ("Failed", "Completed")
        time.sleep(0.2)
    run.cancel()
    assert run.get_status() == "Canceled"


def test_max_run_duration_is_enforced(experiment, target, tmp_path) -> None:
    run = _submit(experiment, target, tmp_path, "import time\nprint('working', flush=True)\ntime.sleep(300)\n",
                  max_run_duration_seconds=3)
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Failed"
    message = run.get_details()["error"]["error"]["message"]
    assert "max_run_duration_seconds=3" in message and "working" in message


def test_an_environment_the_cluster_cannot_build_fails_the_run_with_rays_message(experiment, target,
                                                                                tmp_path) -> None:
    from azuremlcore import Environment
    from azuremlcore.conda_dependencies import CondaDependencies

    # A conda-only package needs conda on the cluster, which this one lacks: Ray's message reaches the run.
    env = Environment("needs-conda")
    env.python.conda_dependencies = CondaDependencies.create(conda_packages=["gdal"], pip_packages=["six"])
    run = _submit(experiment, target, tmp_path, "print('never')\n", env=env)
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Failed"
    error = run.get_details()["error"]["error"]
    assert error["code"] == "RayJobFailed" and "Conda" in error["message"]


def test_a_server_workspace_run_logs_back_with_a_run_token(ray_cluster, tmp_path, monkeypatch) -> None:
    from conftest_server import LiveServer

    from azuremlcore import Experiment, Workspace
    from azuremlcore.compute import ComputeTarget, RayCompute

    # The job's first token must outlive Ray's start of the driver (about 5 s on this loaded machine; 3 s
    # failed there), and the run must outlive that token, so that it is renewed.
    server = LiveServer(tmp_path / "server", run_token_lifetime_s=10)
    try:
        monkeypatch.setenv("AZUREMLCORE_ENDPOINT", server.url)
        monkeypatch.setenv("AZUREMLCORE_TOKEN", server.token("alice", "Contributor", "/subscriptions/s1"))
        ws = Workspace.create("ray-srv", subscription_id="s1", resource_group="rg", exist_ok=True, show_output=False)
        target = ComputeTarget.attach(ws, "ray", RayCompute.attach_configuration(address=ray_cluster.address,
                                                                                shared_file_system=False))
        script = """\
            import os, time
            import mlflow
            from azuremlcore import Run
            run = Run.get_context()
            for i in range(24):           # ~12 s: longer than the 10 s token, so it must be renewed
                run.log("tick", i)
                mlflow.log_metric("mtick", i, step=i)
                time.sleep(0.5)
            print("endpoint", os.environ["AZUREML_SERVICE_ENDPOINT"], flush=True)
            os.makedirs("outputs", exist_ok=True)
            open("outputs/o.txt", "w").write("x")
        """
        run = _submit(Experiment(ws, "exp"), target, tmp_path, script)
        assert "AZUREMLCORE_HOME" not in str(run._record.details)
        run.wait_for_completion(raise_on_error=True)
        metrics = run.get_metrics()
        assert metrics["tick"] == list(range(24)) and metrics["mtick"] == list(range(24))
        assert "outputs/o.txt" in run.get_file_names()
    finally:
        server.stop()


def test_a_server_started_with_a_ray_address_runs_amlcompute_jobs_there(ray_cluster, tmp_path, monkeypatch) -> None:
    from conftest_server import LiveServer

    from azuremlcore import Experiment, Workspace
    from azuremlcore.compute import AmlCompute, ComputeTarget

    server = LiveServer(tmp_path / "server", ray_address=ray_cluster.address)
    try:
        monkeypatch.setenv("AZUREMLCORE_ENDPOINT", server.url)
        monkeypatch.setenv("AZUREMLCORE_TOKEN", server.token("bob", "Contributor", "/subscriptions/s2"))
        ws = Workspace.create("ray-aml", subscription_id="s2", resource_group="rg", exist_ok=True, show_output=False)
        cluster = ComputeTarget.create(ws, "cpu-cluster", AmlCompute.provisioning_configuration(max_nodes=2))
        status = cluster.get_status()
        assert status.current_node_count == 2 and status.resources["CPU"] == 4.0
        assert status.scale_settings["maxNodeCount"] == 2
        script = """\
            import os
            from azuremlcore import Run
            Run.get_context().log("on_ray", 1)
            print("driver node", os.environ.get("RAY_JOB_ID") is not None or "RAY_ADDRESS" in os.environ, flush=True)
        """
        run = _submit(Experiment(ws, "exp"), cluster, tmp_path, script)
        run.wait_for_completion(raise_on_error=True)
        details = run._refresh().details
        assert details["_ray"]["byServer"] and details["_ray"]["address"] == ray_cluster.address
        assert run.get_metrics()["on_ray"] == 1
        slow = _submit(Experiment(ws, "exp"), cluster, tmp_path, "import time\ntime.sleep(300)\n")
        deadline = time.monotonic() + 120
        while slow.get_status() != "Running":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        slow.cancel()
        assert slow.get_status() == "Canceled"
    finally:
        server.stop()
