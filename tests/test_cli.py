"""`aml`: every command through `main(argv)` in this process on an embedded workspace, and a few through the
console script (`.venv/bin/aml`). The slow suites (test_cli_slow.py) run the same scenarios through the
console script on an embedded and a server workspace, and submit runs."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import cli_scenarios as sc
from cli_scenarios import AML, Cli


@pytest.fixture
def cli(workdir: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """`aml` in-process, in the test's own folder and AZUREMLCORE_HOME."""
    return Cli(workdir, console=False, capsys=capsys)


def _runs() -> dict[str, str]:
    """A Completed run (with outputs/model.pkl and a log), a Failed and a Running one, in experiment 'exp' of ws1."""
    from azuremlcore import Experiment, Workspace

    exp = Experiment(Workspace.get("ws1", resource_group="rg"), "exp")
    done = exp.start_logging(outputs=False)
    done.upload_file("outputs/model.pkl", _file("model bytes"))
    done.upload_file("user_logs/std_log.txt", _file("hello log\n"))
    done.complete()
    failed = exp.start_logging(outputs=False)
    failed.upload_file("user_logs/std_log.txt", _file("about to fail\n"))
    failed.fail(error_details="boom")
    running = exp.start_logging(outputs=False)
    return {"done": done.id, "failed": failed.id, "running": running.id}


def _file(text: str) -> str:
    import tempfile

    fd, path = tempfile.mkstemp()
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path


def test_workspace_folder_and_output_formats(cli: Cli) -> None:
    sc.workspace_and_folder(cli, [])


def test_runs_models_environments_datastores_compute(cli: Cli) -> None:
    cli.ok("workspace", "create", "-w", "ws1", "-g", "rg", "-o", "none")
    cli.ok("folder", "attach", "-w", "ws1", "-g", "rg", "-e", "exp", "-o", "none")
    ids = _runs()
    sc.runs(cli, ids)
    sc.models(cli, ids)
    sc.environments(cli)
    sc.datastores(cli)
    sc.compute_targets(cli)


def test_submit_script_refusals_come_before_any_run(cli: Cli) -> None:
    cli.ok("workspace", "create", "-w", "ws1", "-g", "rg", "-o", "none")
    cli.ok("folder", "attach", "-w", "ws1", "-g", "rg", "-e", "exp", "-o", "none")
    (cli.cwd / "train.py").write_text("print('hi')\n")
    assert "not allowed with" in cli.fails("run", "submit-script", "--user-managed", "-d", "env.yml", "train.py",
                                          code=2)
    assert "--python needs --user-managed" in cli.fails("run", "submit-script", "--python", "py", "train.py", code=2)
    assert "not found" in cli.fails("run", "submit-script", "--user-managed", "nope.py")
    assert "missing.yml" in cli.fails("run", "submit-script", "-d", "missing.yml", "train.py")
    assert cli.json("run", "list") == []


def test_transfers_draw_rich_progress_bars(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from azuremlcore._cli import _progress

    cli.ok("workspace", "create", "-w", "ws1", "-g", "rg", "-o", "none")
    cli.ok("folder", "attach", "-w", "ws1", "-g", "rg", "-o", "none")
    for i in range(3):
        (cli.cwd / "data" / f"f{i}.txt").parent.mkdir(exist_ok=True)
        (cli.cwd / "data" / f"f{i}.txt").write_text(str(i))
    monkeypatch.setattr(_progress, "shown", lambda args: True)  # as on a terminal
    code, out, err = cli.run("datastore", "upload", "-p", "data")
    assert code == 0 and "Uploading to workspaceblobstore" in err and "3/3" in err, err
    assert "Uploading" not in out  # progress never mixes with the result
    code, out, err = cli.run("datastore", "download", "-d", "copy", "--hide-progress")
    assert code == 0 and "Downloading" not in err


def test_each_top_level_name_is_owned_by_the_module_that_registers_it() -> None:
    """`build_parser` imports only the named group's module (an `aml server` then holds no other), by `_OWNERS`."""
    import importlib

    from azuremlcore._cli import main

    owners = {name: module for module in main._MODULES
              for name in importlib.import_module(f"azuremlcore._cli.{module}").TOP}
    assert main._OWNERS == owners
    script = ("import sys; from azuremlcore._cli.main import build_parser; build_parser(['server', '--help']); "
              "print(sorted(m for m in sys.modules if m.startswith('azuremlcore._cli.')))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert "azuremlcore._cli.admin" in loaded and "azuremlcore._cli.run'" not in loaded, loaded


def test_every_group_and_command_has_help_with_examples(cli: Cli) -> None:
    from azuremlcore._cli.main import build_parser

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> list[tuple[list[str], bool]]:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            return [(path, True)]
        return [(path, False)] + [n for name, child in subs[0].choices.items() for n in walk(child, path + [name])]

    nodes = walk(build_parser(), [])
    assert sum(leaf for _, leaf in nodes) >= 50
    for path, leaf in nodes:
        out = cli.ok(*path, "-h")
        assert out.startswith(f"usage: {' '.join(['aml'] + path)}"), out
        if leaf:
            assert "Examples:\n" in out and f"aml {' '.join(path)}" in out.split("Examples:")[1], path
    # A group alone, or aml alone, shows what there is to run.
    assert "submit-script" in cli.ok("run")
    top = cli.ok()
    for section in ("Workspaces and runs:", "Assets:", "Server administration", "This machine:"):
        assert section in top
    for name in ("server", "sp", "token", "role", "principals", "device", "login", "alias"):  # admin names kept
        assert f"\n  {name} " in top


def test_usage_errors_name_the_command(cli: Cli) -> None:
    assert "aml run list: unrecognized arguments: --bogus" in cli.fails("run", "list", "--bogus", code=2)
    assert "invalid choice" in cli.fails("runs", code=2)
    assert "-w/--workspace-name" in cli.fails("folder", "attach", code=2)
    assert "--yes" not in cli.fails("workspace", "show", "-w", "nope")


def test_admin_commands_keep_their_names(cli: Cli, tmp_path: Path) -> None:
    data = str(tmp_path / "srv")
    token = cli.ok("token", "create", "--data-dir", data, "--user", "bob", "--role", "Reader").strip()
    assert token.startswith("amlu_")
    cli.ok("role", "grant", "--data-dir", data, "--principal", "user:carol", "--scope", "/", "--role", "Owner")
    principals = json.loads(cli.ok("principals", "--data-dir", data))
    assert "user:bob" in {p["id"] for p in principals}
    sp = json.loads(cli.ok("sp", "create", "--data-dir", data, "--name", "ci"))
    assert sp["principal"].startswith("sp:")
    assert "revoked 1 token(s) of bob" in cli.ok("token", "revoke", "--data-dir", data, "--user", "bob")


def test_completion_script(cli: Cli) -> None:
    assert "complete" in cli.ok("completion") and "_python_argcomplete" in cli.ok("completion")


def test_console_script(tmp_path: Path, workdir: Path) -> None:
    """The installed `aml`: version, help, a JSON result, an error line and its status, shell completion."""
    console = Cli(workdir, console=True)
    assert console.ok("--version").startswith("aml ")
    assert "Workspaces and runs:" in console.ok("--help")
    assert "aml folder attach" in console.fails("run", "list")
    assert console.json("workspace", "create", "-w", "ws1", "-g", "rg", "--query", "{n: name}") == {"n": "ws1"}
    out = tmp_path / "completions"
    env = {**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": "aml ru", "COMP_POINT": "6",
           "_ARGCOMPLETE_STDOUT_FILENAME": str(out)}
    subprocess.run([AML], env=env, capture_output=True, timeout=60)
    assert "run" in out.read_text().split()


def test_the_command_line_dependencies_stay_out_of_job_environments() -> None:
    import sys

    from azuremlcore._environments._sdk_link import pip_name, sdk_requirements

    names = {pip_name(r) for r in sdk_requirements(f"{sys.version_info[0]}.{sys.version_info[1]}")}
    assert "sqlalchemy" in names
    assert not names & {"jmespath", "rich", "argcomplete", "uv"}
