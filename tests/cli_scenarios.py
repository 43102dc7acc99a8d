"""`aml` command scenarios shared by the fast suite (in-process `main`) and the slow one (the console script,
on an embedded and a server workspace): each takes a `Cli` and checks exit statuses, JSON output,
`--query` results and error lines."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

AML = str(Path(sys.executable).with_name("aml"))


class Cli:
    """Runs `aml ...` in a folder: through the console script (`console=True`) or `main(argv)` in this process."""

    def __init__(self, cwd: Path, console: bool, capsys: Any = None, env: dict[str, str] | None = None) -> None:
        self.cwd, self.console, self.capsys, self.env = cwd, console, capsys, env

    def run(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        """(exit status, stdout, stderr) of one command."""
        if self.console:
            done = subprocess.run([AML, *args], cwd=self.cwd, capture_output=True, text=True, timeout=300,
                                  env=self.env, input=stdin if stdin is not None else "")
            return done.returncode, done.stdout, done.stderr
        from azuremlcore._cli.main import main

        here = os.getcwd()
        os.chdir(self.cwd)
        try:
            code = main(list(args))
        finally:
            os.chdir(here)
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str) -> str:
        """stdout of a command that must succeed."""
        code, out, err = self.run(*args)
        assert code == 0, f"aml {' '.join(args)} -> {code}\n{out}\n{err}"
        assert "Traceback" not in err, err
        return out

    def json(self, *args: str) -> Any:
        """The parsed `-o json` output of a command that must succeed (-o goes after the command's words)."""
        n = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
        return json.loads(self.ok(*args[:n], "-o", "json", *args[n:]))

    def fails(self, *args: str, code: int = 1) -> str:
        """The ERROR line of a command that must fail with `code`: one line, no traceback."""
        got, out, err = self.run(*args)
        assert got == code, f"aml {' '.join(args)} -> {got}, wanted {code}\n{out}\n{err}"
        assert "Traceback" not in err, err
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines and lines[-1].startswith("ERROR: "), err
        return lines[-1]


# ---------------------------------------------------------------------- scenarios
def workspace_and_folder(cli: Cli, endpoint: list[str]) -> None:
    """workspace create/show/list, folder attach, and the output formats; `endpoint` is [] or ['--endpoint', URL]."""
    created = cli.json("workspace", "create", "-w", "ws1", "-g", "rg", *endpoint)
    assert created["name"] == "ws1" and created["resourceGroup"] == "rg"
    assert "already exists" in cli.fails("workspace", "create", "-w", "ws1", "-g", "rg", *endpoint)
    assert cli.json("workspace", "create", "-w", "ws1", "-g", "rg", "--exist-ok", *endpoint)["name"] == "ws1"
    cli.ok("workspace", "create", "-w", "ws2", "-g", "rg2", "-o", "none", *endpoint)
    names = cli.ok("workspace", "list", "-g", "rg", "--query", "[].name", "-o", "tsv", *endpoint)
    assert names.split() == ["ws1"]
    assert "No workspace: no .azureml/config.json" in cli.fails("workspace", "show")
    attached = cli.json("folder", "attach", "-w", "ws1", "-g", "rg", "-e", "exp", *endpoint)
    assert attached["experimentName"] == "exp"
    config = json.loads((cli.cwd / ".azureml" / "config.json").read_text())
    assert config["workspace_name"] == "ws1" and config["experiment_name"] == "exp"
    assert (config.get("endpoint") is not None) == bool(endpoint)
    # From here on the attached folder names the workspace.
    assert cli.ok("workspace", "show", "--query", "name", "-o", "tsv").strip() == "ws1"
    table = cli.ok("workspace", "show").splitlines()
    assert table[0].split() == ["Name", "ResourceGroup", "Subscription", "Location", "Created"]
    assert set(table[1]) == {"-", " "} and table[2].split()[:2] == ["ws1", "rg"]
    assert "name: ws1" in cli.ok("workspace", "show", "-o", "yaml")
    assert "\x1b[" in cli.ok("workspace", "show", "-o", "jsonc")
    assert cli.ok("workspace", "show", "-o", "none") == ""
    assert "not valid JMESPath" in cli.fails("workspace", "show", "--query", "[?", code=2)
    assert "--yes" in cli.fails("workspace", "delete", "-w", "ws2", "-g", "rg2", *endpoint, code=2)
    cli.ok("workspace", "delete", "-w", "ws2", "-g", "rg2", "--yes", *endpoint)
    assert "No workspace 'ws2'" in cli.fails("workspace", "show", "-w", "ws2", "-g", "rg2", *endpoint)


def runs(cli: Cli, ids: dict[str, str]) -> None:
    """experiment list and the run commands; `ids` has a Completed ('done'), a Failed and a Running run of 'exp',
    the done one with outputs/model.pkl and a log saying 'hello log'."""
    assert [e["name"] for e in cli.json("experiment", "list")] == ["exp"]
    listed = cli.json("run", "list")
    assert {r["runId"] for r in listed} == set(ids.values())
    assert len(cli.json("run", "list", "--last", "1")) == 1
    assert cli.json("run", "list", "-e", "exp", "--status", "Failed", "--query", "[].runId") == [ids["failed"]]
    assert cli.ok("run", "list", "--status", "Completed", "--query", "[0].status", "-o", "tsv").strip() == "Completed"
    assert "--status 'Done'" in cli.fails("run", "list", "--status", "Done", code=2)
    assert "No experiment 'nope'" in cli.fails("run", "list", "-e", "nope")
    shown = cli.json("run", "show", "-r", ids["done"])
    assert shown["runId"] == ids["done"] and shown["status"] == "Completed" and shown["experimentName"] == "exp"
    assert shown["portalUrl"]
    assert "No run 'nope'" in cli.fails("run", "show", "-r", "nope")
    tags = cli.json("run", "update", "-r", ids["done"], "--add-tag", "quality=good", "--add-tag", "reviewed")
    assert tags["tags"] == {"quality": "good", "reviewed": ""}
    assert cli.json("run", "update", "-r", ids["done"], "--remove-tag", "reviewed")["tags"] == {"quality": "good"}
    assert cli.json("run", "list", "--tags", "quality=good", "--query", "[].runId") == [ids["done"]]
    assert cli.json("run", "list", "--tags", "quality", "--query", "[].runId") == [ids["done"]]  # any value
    assert cli.json("run", "list", "--tags", "quality=bad") == []
    assert "Nothing to update" in cli.fails("run", "update", "-r", ids["done"], code=2)
    paths = cli.json("run", "download-logs", "-r", ids["done"], "-d", "logs")
    assert any(p.endswith("std_log.txt") for p in paths)
    assert "hello log" in (cli.cwd / "logs" / "user_logs" / "std_log.txt").read_text()
    code, out, err = cli.run("run", "monitor-logs", "-r", ids["done"])
    assert code == 0 and "hello log" in out, (out, err)
    code, out, err = cli.run("run", "monitor-logs", "-r", ids["failed"])
    assert code == 1 and err.strip().splitlines()[-1].startswith(f"ERROR: Run {ids['failed']} ended Failed"), err
    assert cli.json("run", "cancel", "-r", ids["running"])["status"] in ("Canceled", "CancelRequested")


def models(cli: Cli, ids: dict[str, str]) -> None:
    """model register (a run's file, a local file), list, show, download, delete."""
    from_run = cli.json("model", "register", "-n", "demo", "--asset-path", "outputs/model.pkl", "-r", ids["done"])
    assert from_run["id"] == "demo:1" and from_run["runId"] == ids["done"]
    (cli.cwd / "meta.json").write_text(json.dumps({"runId": ids["done"], "experimentName": "exp"}))
    assert cli.json("model", "register", "-n", "demo", "--asset-path", "outputs/model.pkl",
                    "-f", "meta.json")["id"] == "demo:2"
    (cli.cwd / "local.pkl").write_text("local model")
    local = cli.json("model", "register", "-n", "demo", "-p", "local.pkl", "--tag", "stage=dev",
                     "--model-framework", "ScikitLearn")
    assert local["id"] == "demo:3" and local["tags"] == {"stage": "dev"} and local["framework"] == "ScikitLearn"
    assert "Say what to register" in cli.fails("model", "register", "-n", "demo", code=2)
    assert "pass -r RUN-ID" in cli.fails("model", "register", "-n", "demo", "--asset-path", "x", code=2)
    assert cli.json("model", "list", "--query", "[].id") == ["demo:3", "demo:2", "demo:1"]
    assert cli.json("model", "list", "--latest", "--query", "[].id") == ["demo:3"]
    assert cli.json("model", "list", "--tag", "stage=dev", "--query", "[].id") == ["demo:3"]
    assert cli.json("model", "list", "-r", ids["done"], "--query", "length(@)") == 2
    assert cli.ok("model", "show", "-n", "demo", "--query", "version", "-o", "tsv").strip() == "3"
    assert cli.json("model", "show", "-n", "demo", "-v", "1")["runId"] == ids["done"]
    assert "No model demo:9" in cli.fails("model", "show", "-i", "demo:9")
    got = cli.json("model", "download", "-i", "demo:1", "-t", "dl")
    assert Path(got["path"]).read_text() == "model bytes"
    assert "exist" in cli.fails("model", "download", "-i", "demo:1", "-t", "dl")
    cli.ok("model", "download", "-i", "demo:1", "-t", "dl", "--overwrite")
    cli.ok("model", "delete", "-i", "demo:2")
    assert cli.json("model", "list", "--query", "[].version") == [3, 1]


def environments(cli: Cli) -> None:
    """environment scaffold, register, list, show, download."""
    scaffolded = cli.json("environment", "scaffold", "-n", "myenv", "-d", "myenv")
    assert (Path(scaffolded["directory"]) / "azureml_environment.json").is_file()
    assert cli.json("environment", "register", "-d", "myenv")["version"] == "1"
    listed = cli.json("environment", "list", "--query", "[].name")
    assert "myenv" in listed and "AzureML-Minimal" in listed  # registered and curated
    shown = cli.json("environment", "show", "-n", "myenv", "-v", "1")
    assert shown["name"] == "myenv" and shown["python"]["userManagedDependencies"] is False
    cli.ok("environment", "download", "-n", "myenv", "-d", "again")
    assert (cli.cwd / "again" / "conda_dependencies.yml").is_file()
    assert "overwrite" in cli.fails("environment", "download", "-n", "myenv", "-d", "again")
    assert "No environment 'nope'" in cli.fails("environment", "show", "-n", "nope")


def datastores(cli: Cli) -> None:
    """datastore list, show, upload (folder and file), download, set-default."""
    assert cli.json("datastore", "list", "--query", "[].name") == ["workspaceblobstore"]
    assert cli.json("datastore", "show")["isDefault"] is True
    data = cli.cwd / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("a")
    (data / "sub" / "b.txt").write_text("b")
    assert cli.json("datastore", "upload", "-p", "data", "-u", "d1")["targetPath"] == "d1"
    cli.ok("datastore", "upload", "-n", "workspaceblobstore", "-p", str(data / "a.txt"), "-u", "single")
    got = cli.json("datastore", "download", "-d", "copy", "--prefix", "d1")
    assert got["downloaded"] == 2 and (cli.cwd / "copy" / "d1" / "sub" / "b.txt").read_text() == "b"
    assert cli.json("datastore", "download", "-d", "copy", "--prefix", "single")["downloaded"] == 1
    assert "does not exist" in cli.fails("datastore", "set-default", "-n", "nope")
    assert cli.json("datastore", "set-default", "-n", "workspaceblobstore")["isDefault"] is True


def compute_targets(cli: Cli) -> None:
    """computetarget create amlcompute/computeinstance, list, show, delete."""
    made = cli.json("computetarget", "create", "amlcompute", "-n", "cpu-cluster", "--max-nodes", "2")
    assert made["properties"]["properties"]["scaleSettings"]["maxNodeCount"] == 2
    cli.ok("computetarget", "create", "computeinstance", "-n", "my-ci")
    assert cli.json("computetarget", "list", "--query", "[].name") == ["cpu-cluster", "my-ci"]
    table = cli.ok("computetarget", "list").splitlines()
    assert table[0].split() == ["Name", "Type", "State", "VmSize", "MinNodes", "MaxNodes"]
    shown = cli.json("computetarget", "show", "-n", "cpu-cluster", "-v")
    assert shown["status"]["currentNodeCount"] == 0
    assert "already exists" in cli.fails("computetarget", "create", "amlcompute", "-n", "cpu-cluster")
    cli.ok("computetarget", "delete", "-n", "my-ci")
    assert "No compute target 'my-ci'" in cli.fails("computetarget", "show", "-n", "my-ci")
