"""Ray compute against a small fake of Ray's Jobs API (a real HTTP server in this process): fast, no Ray needed.

What is checked: attach and its errors, status shaped like AmlComputeStatus, what a submit sends
(working folder package, runtime environment, entrypoint, variables), status mapping when the
Ray job ends without its driver (an environment that failed to build, a stop), cancel, and the
refusals that come before a run exists.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from azuremlcore.exceptions import ComputeTargetException


class FakeRay:
    """The handful of dashboard routes the SDK calls, with state the test can read and change."""

    def __init__(self) -> None:
        self.version = "2.60.0"
        self.nodes: list[dict[str, Any]] = [
            {"node_id": "n1", "node_ip": "127.0.0.2", "state": "ALIVE", "is_head_node": True,
             "resources_total": {"CPU": 2.0, "memory": 4e9}},
            {"node_id": "n2", "node_ip": "127.0.0.3", "state": "ALIVE", "is_head_node": False,
             "resources_total": {"CPU": 4.0, "GPU": 1.0, "memory": 8e9}},
            {"node_id": "n3", "node_ip": "127.0.0.4", "state": "DEAD", "is_head_node": False,
             "resources_total": {"CPU": 8.0}}]
        self.packages: dict[str, bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.stops: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?")[0]
                if path == "/api/version":
                    return self._send(200, {"version": "4", "ray_version": fake.version})
                if path == "/api/v0/nodes":
                    return self._send(200, {"result": True, "data": {"result": {"result": fake.nodes}}})
                if path.startswith("/api/packages/"):
                    return self._send(200 if path in fake.packages else 404, {})
                if path.startswith("/api/jobs/"):
                    parts = path.split("/")
                    job = fake.jobs.get(parts[3])
                    if job is None:
                        return self._send(404, {"detail": "no such job"})
                    if len(parts) > 4 and parts[4] == "logs":
                        return self._send(200, {"logs": job.get("logs", "")})
                    return self._send(200, job)
                self._send(404, {})

            def do_PUT(self) -> None:  # noqa: N802
                fake.packages[self.path] = self._body()
                self._send(200, {})

            def do_POST(self) -> None:  # noqa: N802
                body = self._body()
                if self.path == "/api/jobs/":
                    req = json.loads(body)
                    fake.jobs[req["submission_id"]] = {**req, "status": "PENDING", "message": "Job is pending"}
                    return self._send(200, {"submission_id": req["submission_id"]})
                if self.path.endswith("/stop"):
                    sid = self.path.split("/")[3]
                    fake.stops.append(sid)
                    fake.jobs[sid]["status"] = "STOPPED"
                    return self._send(200, {"stopped": True})
                self._send(404, {})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_ray() -> Iterator[FakeRay]:
    """A fake Ray dashboard on a free loopback port."""
    fake = FakeRay()
    yield fake
    fake.close()


@pytest.fixture
def target(workspace, fake_ray):  # type: ignore[no-untyped-def]
    """The fake cluster attached as 'ray-fake' (a loopback head: shares this machine's files)."""
    from azuremlcore.compute import ComputeTarget, RayCompute

    return ComputeTarget.attach(workspace, "ray-fake", RayCompute.attach_configuration(address=fake_ray.address))


def _src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "train.py").write_text("print('hi')\n")
    return src


def _submit(experiment, target, tmp_path: Path, env=None, **kwargs: Any):  # type: ignore[no-untyped-def]
    from azuremlcore import ScriptRunConfig

    return experiment.submit(ScriptRunConfig(source_directory=str(_src(tmp_path)), script="train.py",
                                             arguments=["--epochs", 3], compute_target=target, environment=env,
                                             **kwargs))


def test_attach_records_the_cluster_and_comes_back_as_raycompute(workspace, target, fake_ray) -> None:
    from azuremlcore.compute import ComputeTarget, RayCompute

    again = ComputeTarget(workspace, "ray-fake")
    assert isinstance(again, RayCompute) and again.is_attached
    assert again.address == fake_ray.address and again.ray_version == "2.60.0"
    assert isinstance(workspace.compute_targets["ray-fake"], RayCompute)
    again.detach()
    assert "ray-fake" not in workspace.compute_targets


def test_status_counts_live_nodes_and_sums_their_resources(target) -> None:
    status = target.get_status()
    assert status.current_node_count == 2
    assert status.node_state_counts["idleNodeCount"] == 2
    assert status.node_state_counts["unusableNodeCount"] == 1
    assert status.resources["CPU"] == 6.0 and status.resources["GPU"] == 1.0
    assert status.ray_version == "2.60.0"
    data = status.serialize()
    assert data["currentNodeCount"] == 2 and len(data["nodes"]) == 3
    assert [n["privateIpAddress"] for n in target.list_nodes()] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


def test_attach_to_nothing_says_what_to_check(workspace) -> None:
    from conftest_server import free_port

    from azuremlcore.compute import ComputeTarget, RayCompute

    with pytest.raises(ComputeTargetException, match="does not answer.*ray start --head"):
        ComputeTarget.attach(workspace, "nothing", RayCompute.attach_configuration(
            address=f"127.0.0.1:{free_port()}"))
    assert "nothing" not in workspace.compute_targets
    with pytest.raises(ComputeTargetException, match="Ray Client address"):
        RayCompute.attach_configuration(address="ray://head:10001")


def test_attach_to_an_old_ray_says_which_version_is_needed(workspace, fake_ray) -> None:
    from azuremlcore.compute import ComputeTarget, RayCompute

    fake_ray.version = "1.13.0"
    with pytest.raises(ComputeTargetException, match=r"runs Ray 1\.13\.0; Ray 2\.9 or newer"):
        ComputeTarget.attach(workspace, "old", RayCompute.attach_configuration(address=fake_ray.address))


def test_submit_sends_snapshot_environment_and_where_the_workspace_is(experiment, target, fake_ray, tmp_path,
                                                                     azuremlcore_home) -> None:
    from azuremlcore import Environment
    from azuremlcore.conda_dependencies import CondaDependencies

    env = Environment("train-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["six==1.16.0"])
    env.environment_variables = {"MY_FLAG": "1"}
    run = _submit(experiment, target, tmp_path, env)
    assert run.get_status() == "Queued"
    (sid, job), = fake_ray.jobs.items()
    assert run._record.details["_ray"] == {"address": fake_ray.address, "submissionId": sid}
    renv = job["runtime_env"]
    assert renv["working_dir"].startswith("gcs://_ray_pkg_")
    assert "/api/packages/gcs/" + renv["working_dir"].split("://")[1] in fake_ray.packages
    assert renv["uv"]["packages"] == ["six==1.16.0"]
    assert renv["env_vars"]["AZUREMLCORE_HOME"] == str(azuremlcore_home)
    assert "AZUREML_RUN_TOKEN" not in renv["env_vars"]
    assert "python -m azuremlcore._execution.ray_job --run-id " + run.id in job["entrypoint"]
    definition = run.get_details()["runDefinition"]
    assert definition["arguments"] == ["--epochs", "3"]
    assert definition["environment"]["environmentVariables"] == {"MY_FLAG": "1"}


def test_a_distributed_config_sends_its_process_layout(experiment, target, fake_ray, tmp_path) -> None:
    from azuremlcore.runconfig import MpiConfiguration, PyTorchConfiguration

    _submit(experiment, target, tmp_path, distributed_job_config=PyTorchConfiguration(process_count=4, node_count=2))
    _submit(experiment, target, tmp_path, distributed_job_config=MpiConfiguration(process_count_per_node=3,
                                                                                  node_count=2))
    layouts = [(j["runtime_env"]["env_vars"]["_AZUREMLCORE_RAY_PROCESS_COUNT"],
                j["runtime_env"]["env_vars"]["_AZUREMLCORE_RAY_NODE_COUNT"]) for j in fake_ray.jobs.values()]
    assert layouts == [("4", "2"), ("6", "2")]


def test_a_ray_job_that_fails_before_the_driver_fails_the_run_with_rays_words(experiment, target, fake_ray,
                                                                                tmp_path) -> None:
    run = _submit(experiment, target, tmp_path)
    job = next(iter(fake_ray.jobs.values()))
    job.update(status="FAILED", message="runtime_env setup failed: No solution found for nosuchpkg",
               logs="Runtime env is setting up.\nerror: nosuchpkg was not found\n")
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Failed"
    error = run.get_details()["error"]["error"]
    assert error["code"] == "RayJobFailed"
    assert "No solution found for nosuchpkg" in error["message"] and "nosuchpkg was not found" in error["message"]


def test_a_stopped_ray_job_cancels_the_run(experiment, target, fake_ray, tmp_path) -> None:
    run = _submit(experiment, target, tmp_path)
    next(iter(fake_ray.jobs.values()))["status"] = "STOPPED"
    assert run.get_status() == "Canceled"


def test_a_running_ray_job_leaves_the_run_as_its_driver_records_it(experiment, target, fake_ray, tmp_path) -> None:
    run = _submit(experiment, target, tmp_path)
    next(iter(fake_ray.jobs.values()))["status"] = "RUNNING"
    assert run.get_status() == "Queued"


def test_cancel_stops_the_ray_job(experiment, target, fake_ray, tmp_path) -> None:
    run = _submit(experiment, target, tmp_path)
    run.cancel()
    assert fake_ray.stops == [run._record.details["_ray"]["submissionId"]]
    assert run.get_status() == "Canceled"


def test_a_cluster_without_this_machines_files_is_refused_before_a_run_exists(workspace, experiment, fake_ray,
                                                                              tmp_path) -> None:
    from azuremlcore.compute import ComputeTarget, RayCompute

    far = ComputeTarget.attach(workspace, "ray-far", RayCompute.attach_configuration(
        address=fake_ray.address, shared_file_system=False))
    with pytest.raises(ComputeTargetException, match="does not share this machine's file system.*workspace server"):
        _submit(experiment, far, tmp_path)
    assert list(experiment.get_runs()) == [] and fake_ray.jobs == {}


def test_a_cluster_that_went_away_fails_the_submit_with_what_to_check(experiment, target, fake_ray,
                                                                      tmp_path) -> None:
    fake_ray.close()
    with pytest.raises(ComputeTargetException, match="does not answer"):
        _submit(experiment, target, tmp_path)
    run, = list(experiment.get_runs())
    assert run.get_status() == "Failed"


def test_runtime_env_mapping() -> None:
    from azuremlcore._execution.ray import runtime_env

    user = {"name": "u", "python": {"userManagedDependencies": True}}
    assert runtime_env(user, {"A": "1"}, "gcs://x.zip") == {"working_dir": "gcs://x.zip", "env_vars": {"A": "1"}}
    conda = {"name": "c", "python": {"condaDependencies": {
        "channels": ["conda-forge"], "dependencies": ["python=3.11", "gdal", {"pip": ["six"]}]}}}
    renv = runtime_env(conda, {}, "gcs://x.zip")
    assert "uv" not in renv and renv["conda"]["channels"] == ["conda-forge"]
    assert "gdal" in renv["conda"]["dependencies"] and {"pip": ["six"]} in renv["conda"]["dependencies"]
    opts = {"name": "o", "python": {"condaDependencies": {"dependencies": [{"pip": [
        "--extra-index-url https://example.org/simple", "six"]}]}}}
    assert runtime_env(opts, {}, "w")["uv"] == {"packages": ["six"], "uv_pip_install_options": [
        "--extra-index-url", "https://example.org/simple"]}


def test_cli_attaches_and_detaches_a_ray_cluster(workspace, fake_ray, capsys) -> None:
    from azuremlcore._cli.main import main

    base = ["-w", "ws1", "-g", "rg", "--subscription-id", workspace.subscription_id]
    assert main(["computetarget", "attach", "ray", "-n", "ray-cli", "--address", fake_ray.address, *base,
                 "-o", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["properties"]["computeType"] == "Ray" and out["properties"]["properties"]["rayVersion"] == "2.60.0"
    assert main(["computetarget", "show", "-n", "ray-cli", "-v", *base, "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"]["currentNodeCount"] == 2
    assert main(["computetarget", "detach", "-n", "ray-cli", *base]) == 0
    assert "ray-cli" not in workspace.compute_targets


def test_a_server_with_a_ray_address_submits_its_amlcompute_runs_there(fake_ray, tmp_path, monkeypatch) -> None:
    from conftest_server import LiveServer

    from azuremlcore import Experiment, Workspace
    from azuremlcore.compute import AmlCompute, ComputeInstance, ComputeTarget, RayCompute

    server = LiveServer(tmp_path / "server", ray_address=fake_ray.address)
    try:
        monkeypatch.setenv("AZUREMLCORE_ENDPOINT", server.url)
        monkeypatch.setenv("AZUREMLCORE_TOKEN", server.token("bob", "Contributor", "/subscriptions/s2"))
        ws = Workspace.create("ray-aml", subscription_id="s2", resource_group="rg", exist_ok=True, show_output=False)
        cluster = ComputeTarget.create(ws, "cpu-cluster", AmlCompute.provisioning_configuration(max_nodes=3))
        status = cluster.get_status()
        assert status.current_node_count == 2 and status.resources["CPU"] == 6.0
        assert status.scale_settings["maxNodeCount"] == 3
        run = _submit(Experiment(ws, "exp"), cluster, tmp_path)
        (sid, job), = fake_ray.jobs.items()
        assert job["entrypoint_num_cpus"] == 1  # Ray queues further jobs while the cluster is full
        env = job["runtime_env"]["env_vars"]
        assert env["AZUREML_RUN_TOKEN"] and "AZUREMLCORE_HOME" not in env
        assert f"--endpoint {server.url}" in job["entrypoint"]
        assert run._refresh().details["_ray"] == {"address": fake_ray.address, "submissionId": sid, "byServer": True}
        run.cancel()
        assert fake_ray.stops == [sid] and run.get_status() == "Canceled"
        instance = ComputeTarget.create(ws, "my-ci", ComputeInstance.provisioning_configuration())
        assert instance.get_status() == "Succeeded"  # instances are not backed by the cluster

        # A Ray target of a server workspace: the client submits, with a run token the server issued it.
        attached = ComputeTarget.attach(ws, "ray", RayCompute.attach_configuration(address=fake_ray.address,
                                                                                  shared_file_system=False))
        run = _submit(Experiment(ws, "exp"), attached, tmp_path)
        job = fake_ray.jobs[run._refresh().details["_ray"]["submissionId"]]
        assert "byServer" not in run._record.details["_ray"] and "entrypoint_num_cpus" not in job
        assert job["runtime_env"]["env_vars"]["AZUREML_RUN_TOKEN"] != env["AZUREML_RUN_TOKEN"]
    finally:
        server.stop()
