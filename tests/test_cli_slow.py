"""`aml` through its console script (`.venv/bin/aml`) on an embedded and on a server workspace: every command,
scripts submitted and followed, a model deployed. Slow: hundreds of processes, runs and a server."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import requests

import cli_scenarios as sc
from cli_scenarios import Cli
from conftest_server import LiveServer, free_port

pytestmark = pytest.mark.slow

TRAIN = """\
import os, sys, time
from azuremlcore import Run
run = Run.get_context()
args = sys.argv[1:]
print("args", args, flush=True)
run.log("alpha", 0.5)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.pkl", "w") as fh:
    fh.write("trained")
if "--sleep" in args:
    time.sleep(float(args[args.index("--sleep") + 1]))
    print("slept", flush=True)
if "--fail" in args:
    raise SystemExit("the script failed on purpose")
"""


def _interactive_runs() -> dict[str, str]:
    """The runs the shared run scenario needs, made with the SDK in this process (ws1 of rg, experiment exp)."""
    import tempfile

    from azuremlcore import Experiment, Workspace

    def file(text: str) -> str:
        fd, path = tempfile.mkstemp()
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        return path

    exp = Experiment(Workspace.get("ws1", resource_group="rg"), "exp")
    done = exp.start_logging(outputs=False)
    done.upload_file("outputs/model.pkl", file("model bytes"))
    done.upload_file("user_logs/std_log.txt", file("hello log\n"))
    done.complete()
    failed = exp.start_logging(outputs=False)
    failed.upload_file("user_logs/std_log.txt", file("about to fail\n"))
    failed.fail(error_details="boom")
    return {"done": done.id, "failed": failed.id, "running": exp.start_logging(outputs=False).id}


def _submitted(cli: Cli) -> None:
    """run submit-script: --wait with the log streamed and the outcome as exit status, -o json, --async then
    monitor-logs, cancel, and a model registered from the run through the metadata file."""
    (cli.cwd / "train.py").write_text(TRAIN)
    code, out, err = cli.run("run", "submit-script", "-e", "jobs", "--user-managed", "--wait", "-t", "meta.json",
                             "train.py", "--alpha", "0.1")
    assert code == 0, (out, err)
    assert "args ['--alpha', '0.1']" in out and "RunId" in out and "Completed" in out
    run_id = json.loads((cli.cwd / "meta.json").read_text())["runId"]
    assert cli.json("run", "show", "-r", run_id)["status"] == "Completed"
    # With -o json the log goes to stderr and stdout holds the result alone.
    code, out, err = cli.run("run", "submit-script", "-e", "jobs", "--user-managed", "--wait", "-o", "json",
                             "train.py")
    assert code == 0 and json.loads(out)["status"] == "Completed" and "args []" in err, (out, err)
    code, out, err = cli.run("run", "submit-script", "-e", "jobs", "--user-managed", "--wait", "train.py", "--fail")
    assert code == 1 and "the script failed on purpose" in out, (out, err)
    assert err.strip().splitlines()[-1].startswith("ERROR: Run ") and "ended Failed" in err
    submitted = cli.json("run", "submit-script", "-e", "jobs", "--user-managed", "train.py", "--sleep", "1")
    assert submitted["runId"] and submitted["portalUrl"] and submitted["experimentName"] == "jobs"
    code, out, err = cli.run("run", "monitor-logs", "-r", submitted["runId"])
    assert code == 0 and "slept" in out, (out, err)
    sleeper = cli.json("run", "submit-script", "-e", "jobs", "--user-managed", "train.py", "--sleep", "300")["runId"]
    cli.ok("run", "cancel", "-r", sleeper)
    for _ in range(200):  # bounded: the runner records Canceled once the script's processes are gone
        if cli.ok("run", "show", "-r", sleeper, "--query", "status", "-o", "tsv").strip() == "Canceled":
            break
        time.sleep(0.1)
    assert cli.ok("run", "show", "-r", sleeper, "--query", "status", "-o", "tsv").strip() == "Canceled"
    # A saved run configuration (-c) gives the environment.
    from azuremlcore import Environment
    from azuremlcore.runconfig import RunConfiguration

    config, env = RunConfiguration(), Environment("um")
    env.python.user_managed_dependencies = True
    config.environment = env
    config.save(path=str(cli.cwd), name="um")
    code, out, err = cli.run("run", "submit-script", "-e", "jobs", "-c", "um", "--wait", "train.py", "--from-config")
    assert code == 0 and "--from-config" in out, (out, err)
    model = cli.json("model", "register", "-n", "trained", "--asset-path", "outputs/model.pkl", "-f", "meta.json")
    assert model["runId"] == run_id
    assert Path(cli.json("model", "download", "-i", "trained:1", "-t", "got")["path"]).read_text() == "trained"
    assert run_id in cli.json("run", "list", "-e", "jobs", "--status", "Completed", "--query", "[].runId")
    assert "No experiment: pass -e" in (Cli(cli.cwd.parent, True, env=cli.env).fails(
        "run", "submit-script", "-w", "ws1", "-g", "rg", "--user-managed", "train.py", code=2))


def test_every_command_on_an_embedded_workspace(workdir: Path) -> None:
    cli = Cli(workdir, console=True)
    sc.workspace_and_folder(cli, [])
    ids = _interactive_runs()
    sc.runs(cli, ids)
    sc.models(cli, ids)
    sc.environments(cli)
    sc.datastores(cli)
    sc.compute_targets(cli)
    _submitted(cli)


def test_every_command_on_a_server_workspace(workdir: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    server = LiveServer(tmp_path / "server")
    try:
        token = server.token("alice", "Owner", "/")
        # aml finds the server through --endpoint and the config file, and its credential through aml login:
        # neither variable is passed to it.
        env = {k: v for k, v in os.environ.items() if k not in ("AZUREMLCORE_ENDPOINT", "AZUREMLCORE_TOKEN")}
        cli = Cli(workdir, console=True, env=env)
        assert "No login for workspace server" in cli.fails("workspace", "list", "--endpoint", server.url)
        cli.ok("login", "--endpoint", server.url, "--token", token)
        sc.workspace_and_folder(cli, ["--endpoint", server.url])
        assert server.state.store.find_workspace("local", "rg", "ws1")  # made on the server, not embedded
        monkeypatch.setenv("AZUREMLCORE_ENDPOINT", server.url)  # this process's SDK makes the runs there
        monkeypatch.setenv("AZUREMLCORE_TOKEN", token)
        ids = _interactive_runs()
        sc.runs(cli, ids)
        sc.models(cli, ids)
        sc.environments(cli)
        sc.datastores(cli)
        sc.compute_targets(cli)
        _submitted(cli)
        # The web view link of a server run is the server's page.
        assert cli.ok("run", "show", "-r", ids["done"], "--query", "portalUrl", "-o", "tsv").startswith(server.url)
    finally:
        server.stop()


SCORE = """\
import json, os

def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.txt")) as fh:
        model = fh.read()

def run(raw_data):
    return {"model": model, "got": json.loads(raw_data)}
"""


def test_model_deploy_and_service_commands(workdir: Path) -> None:
    cli = Cli(workdir, console=True)
    cli.ok("workspace", "create", "-w", "ws1", "-g", "rg", "-o", "none")
    cli.ok("folder", "attach", "-w", "ws1", "-g", "rg", "-o", "none")
    (workdir / "model.txt").write_text("v1")
    cli.ok("model", "register", "-n", "demo", "-p", "model.txt")
    (workdir / "src").mkdir()
    (workdir / "src" / "score.py").write_text(SCORE)
    port = free_port()
    service = cli.json("model", "deploy", "-n", "svc", "-m", "demo:1", "--entry-script", "score.py",
                       "--source-directory", "src", "--port", str(port))
    try:
        assert service["state"] == "Healthy" and service["scoringUri"] == f"http://127.0.0.1:{port}/score"
        assert requests.post(service["scoringUri"], data=json.dumps([1, 2])).json() == {"model": "v1", "got": [1, 2]}
        assert cli.json("service", "list", "--query", "[].name") == ["svc"]
        assert "already exists" in cli.fails("model", "deploy", "-n", "svc", "-m", "demo", "--entry-script",
                                             "score.py", "--source-directory", "src")
        # The az ml configuration files work too.
        (workdir / "inference.yml").write_text("entryScript: score.py\nsourceDirectory: src\n")
        (workdir / "deploy.json").write_text(json.dumps({"computeType": "local", "port": port}))
        again = cli.json("model", "deploy", "-n", "svc", "-m", "demo", "--ic", "inference.yml", "--dc", "deploy.json",
                         "--overwrite")
        assert again["state"] == "Healthy" and again["modelIds"] == ["demo:1"]
        assert "Healthy" in cli.ok("service", "show", "-n", "svc")
        (workdir / "aci.json").write_text(json.dumps({"computeType": "ACI"}))
        assert "only local services" in cli.fails("model", "deploy", "-n", "svc2", "-m", "demo", "--entry-script",
                                                  "score.py", "--dc", "aci.json", code=2)
        assert "used by web service" in cli.fails("model", "delete", "-i", "demo:1")
    finally:
        cli.ok("service", "delete", "-n", "svc")
    assert cli.json("service", "list") == []
    cli.ok("model", "delete", "-i", "demo:1")


def test_server_and_admin_commands_through_the_console_script(workdir: Path, tmp_path: Path) -> None:
    """`aml server` started as users start it, its admin commands, and a user command against it."""
    import signal
    import subprocess

    data, port = tmp_path / "srv", free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("AZUREMLCORE_ENDPOINT", "AZUREMLCORE_TOKEN")}
    log = open(tmp_path / "server.log", "w+")
    server = subprocess.Popen([sc.AML, "server", "--data-dir", str(data), "--port", str(port),
                               "--bootstrap-admin", "root"], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):  # bounded wait for the server to answer
            try:
                if requests.get(url + "/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        log.seek(0)
        token = log.read().split("admin token for root: ")[1].split()[0]
        cli = Cli(workdir, console=True, env=env)
        assert "saved login" in cli.ok("login", "--endpoint", url, "--token", token)
        assert cli.json("workspace", "create", "-w", "teamws", "-g", "rg", "--endpoint", url)["name"] == "teamws"
        assert cli.json("workspace", "list", "--endpoint", url, "--query", "[].name") == ["teamws"]
        admin = ["--data-dir", str(data)]
        assert cli.ok("token", "create", *admin, "--user", "bob", "--role", "Reader").startswith("amlu_")
        assert json.loads(cli.ok("sp", "create", *admin, "--name", "ci"))["principal"].startswith("sp:")
        cli.ok("role", "grant", *admin, "--principal", "user:bob", "--scope", "/", "--role", "Contributor")
        principals = {p["id"]: p for p in json.loads(cli.ok("principals", *admin))}
        assert {"scope": "/", "role": "Contributor"} in principals["user:bob"]["roles"]
        cli.ok("role", "revoke", *admin, "--principal", "user:bob", "--scope", "/")
        assert "revoked 1 token(s) of bob" in cli.ok("token", "revoke", *admin, "--user", "bob")
        assert cli.ok("device", "list", *admin) == ""
        assert cli.run("device", "deny", "BCDF-GHJK", *admin)[0] == 1
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        log.close()
