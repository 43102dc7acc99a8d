"""`aml run list|show|cancel|monitor-logs|download-logs|update|submit-script` (as `az ml run`)."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any

from azuremlcore._cli._base import CLIError, Outcome, Subparsers, command, group, key_values, sdk_output_to_stderr

SECTION = "Workspaces and runs"
HELP = "Commands for submitting, updating and monitoring runs."
TOP = {"run": (SECTION, HELP)}  # what `aml --help` lists, without building the parsers
TABLE = [("RunId", "runId"), ("Experiment", "experimentName"), ("Status", "status"), ("Target", "target"),
         ("Started", "startTimeUtc"), ("Ended", "endTimeUtc")]


def _summary(run: Any, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run in one row: what `run list` shows (get_details() without its long parts)."""
    d = details if details is not None else run.get_details()
    return {"runId": run.id, "experimentName": run.experiment.name, "displayName": run.display_name,
            "status": d["status"], "target": d.get("target"), "startTimeUtc": d.get("startTimeUtc"),
            "endTimeUtc": d.get("endTimeUtc"), "tags": run.tags}


def _ws_run(args: argparse.Namespace) -> Any:
    from azuremlcore._cli import _workspace

    return _workspace.run(args, _workspace.workspace(args))


# ---------------------------------------------------------------------- list / show
def _list(args: argparse.Namespace) -> list[dict[str, Any]]:
    from azuremlcore._cli import _workspace
    from azuremlcore._store.records import RUN_STATUSES
    from azuremlcore.experiment import Experiment
    from azuremlcore.run import Run

    if args.status and args.status not in RUN_STATUSES:
        raise CLIError(f"--status {args.status!r}: use one of {', '.join(RUN_STATUSES)}.", code=2)
    if args.last is not None and args.last < 1:
        raise CLIError("--last must be 1 or more.", code=2)
    ws = _workspace.workspace(args)
    experiments = [_workspace.experiment(args, ws)] if args.experiment_name else Experiment.list(ws)
    rows = []
    for exp in experiments:
        runs = Run.list(exp, status=args.status, tags=_tag_filter(args.tags), include_children=args.include_children)
        for i, run in enumerate(runs):  # newest first: the first N of each experiment hold the N newest overall
            if args.last is not None and i >= args.last:
                break
            rows.append(_summary(run))
    if len(experiments) > 1:  # merge the experiments' lists, newest first; not started yet counts as newest
        rows.sort(key=lambda r: r["startTimeUtc"] or "~", reverse=True)
    return rows[:args.last] if args.last is not None else rows


def _tag_filter(pairs: list[str] | None) -> dict[str, str | None] | None:
    """`--tags k=v k2`: Run.list's filter, where a bare key (value None) matches the tag with any value."""
    if not pairs:
        return None
    wanted: dict[str, str | None] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not key:
            raise CLIError(f"--tags {pair!r}: use KEY or KEY=VALUE.", code=2)
        wanted[key] = value if sep else None
    return wanted


def _show(args: argparse.Namespace) -> dict[str, Any]:
    run = _ws_run(args)
    details = run.get_details()
    return {**details, "experimentName": run.experiment.name, "portalUrl": run.get_portal_url()}


def _cancel(args: argparse.Namespace) -> dict[str, Any]:
    run = _ws_run(args)
    run.cancel()
    return _summary(run)


def _update(args: argparse.Namespace) -> dict[str, Any]:
    if not args.add_tag and not args.remove_tag:
        raise CLIError("Nothing to update: pass --add-tag KEY=VALUE or --remove-tag KEY.", code=2)
    run = _ws_run(args)
    if args.add_tag:
        run.set_tags(key_values(args.add_tag, "--add-tag"))
    if args.remove_tag:
        run.remove_tags(list(args.remove_tag))
    return {"runId": run.id, "tags": run.get_tags()}


# ---------------------------------------------------------------------- logs
def _outcome(run: Any, details: dict[str, Any], data: Any) -> Outcome:
    """Exit status 0 when the run Completed; otherwise 1 with a line saying how it ended and where its logs are."""
    status = details.get("status")
    if status == "Completed":
        return Outcome(data)
    message = ((details.get("error") or {}).get("error") or {}).get("message")
    return Outcome(data, 1, f"Run {run.id} ended {status}" + (f": {message}" if message else ".")
                   + f" Its logs: aml run download-logs -r {run.id} -d logs")


def _follow(args: argparse.Namespace, run: Any, to_stdout: bool) -> dict[str, Any]:
    """Stream the run's log until it ends (the SDK's wait_for_completion), under a spinner on a terminal."""
    from azuremlcore._cli._progress import spinner

    target = contextlib.nullcontext() if to_stdout else contextlib.redirect_stdout(sys.stderr)
    try:
        with target, spinner(args, f"Run {run.id}", stdout_passthrough=to_stdout):
            return run.wait_for_completion(show_output=True, raise_on_error=False)
    except KeyboardInterrupt:
        raise CLIError(f"Stopped following run {run.id}; it goes on. Follow it again with `aml run monitor-logs -r "
                       f"{run.id}`, or cancel it with `aml run cancel -r {run.id}`.", code=130) from None


def _monitor_logs(args: argparse.Namespace) -> Outcome:
    run = _ws_run(args)
    details = _follow(args, run, to_stdout=True)
    return _outcome(run, details, None)


def _download_logs(args: argparse.Namespace) -> list[str]:
    from azuremlcore._cli._progress import spinner

    run = _ws_run(args)
    with spinner(args, f"Downloading the logs of run {run.id}"):
        return run.get_all_logs(destination=args.output_dir)


# ---------------------------------------------------------------------- submit
def _environment(args: argparse.Namespace) -> Any:
    from azuremlcore.environment import Environment

    if args.conda_dependencies:
        name = os.path.splitext(os.path.basename(args.conda_dependencies))[0] or "conda-env"
        return Environment.from_conda_specification(name, args.conda_dependencies)
    if args.user_managed:
        env = Environment("user-managed")
        env.python.user_managed_dependencies = True
        if args.python:
            env.python.interpreter_path = args.python
        return env
    return None


def _submit_script(args: argparse.Namespace) -> Any:
    from azuremlcore._cli import _workspace
    from azuremlcore.experiment import Experiment
    from azuremlcore.runconfig import RunConfiguration
    from azuremlcore.script_run_config import ScriptRunConfig

    if args.python and not args.user_managed:
        raise CLIError("--python needs --user-managed (it names the interpreter of a user-managed environment).",
                       code=2)
    arguments = list(args.arguments)
    if arguments[:1] == ["--"]:
        arguments = arguments[1:]
    name = _workspace.experiment_name(args)
    ws = _workspace.workspace(args)
    with sdk_output_to_stderr():
        run_config = RunConfiguration.load(args.source_directory, args.run_configuration_name) \
            if args.run_configuration_name else None
        src = ScriptRunConfig(source_directory=args.source_directory, script=args.script, arguments=arguments,
                              run_config=run_config, compute_target=args.target, environment=_environment(args))
        run = Experiment(ws, name).submit(src, tags=key_values(args.tags, "--tag") or None)
    data = {"runId": run.id, "experimentName": name, "status": run.get_status(), "target": src.compute_target,
            "portalUrl": run.get_portal_url()}
    if args.output_metadata_file:
        with open(args.output_metadata_file, "w", encoding="utf-8") as fh:
            json.dump({"runId": run.id, "experimentName": name}, fh, indent=2)
    if not args.wait:
        return data
    # The log goes to stdout with the table output; with json/yaml/tsv to stderr, so stdout stays parseable.
    details = _follow(args, run, to_stdout=args.output == "table")
    data["status"] = details["status"]
    return _outcome(run, details, data)


def register(sub: Subparsers) -> None:
    """Add `aml run ...` to `aml`."""
    g = group(sub, "run", HELP)

    c = command(g, "list", "List runs, newest first (all experiments unless -e).", _list, table=TABLE,
                examples=[("The five newest runs of experiment exp.", "aml run list -e exp --last 5"),
                          ("Ids of the failed runs, one a line.",
                           "aml run list --status Failed --query \"[].runId\" -o tsv")])
    c.add_argument("-e", "--experiment-name", metavar="NAME", help="only this experiment")
    c.add_argument("--last", type=int, metavar="N", help="only the N newest runs")
    c.add_argument("--status", metavar="STATUS", help="only runs in this status (Running, Completed, Failed, ...)")
    c.add_argument("--tags", nargs="+", metavar="KEY[=VALUE]", help="only runs with these tags")
    c.add_argument("--include-children", action="store_true", help="child runs too")

    run_arg: dict[str, Any] = {"metavar": "ID", "required": True, "help": "the run id"}
    c = command(g, "show", "Show a run.", _show, table=TABLE,
                examples=[("Show a run.", "aml run show -r exp_1700000000_0a1b2c3d"),
                          ("Its status only.", "aml run show -r exp_1700000000_0a1b2c3d --query status -o tsv")])
    c.add_argument("-r", "--run", **run_arg)

    c = command(g, "cancel", "Cancel a run (a submitted run's processes are stopped).", _cancel, table=TABLE,
                examples=[("Cancel a run.", "aml run cancel -r exp_1700000000_0a1b2c3d")])
    c.add_argument("-r", "--run", **run_arg)

    c = command(g, "monitor-logs", "Follow a run's log live until the run ends; the exit status is its outcome.",
                _monitor_logs, streams=True,
                examples=[("Follow a run's output.", "aml run monitor-logs -r exp_1700000000_0a1b2c3d")])
    c.add_argument("-r", "--run", **run_arg)

    c = command(g, "download-logs", "Download a run's log files.", _download_logs,
                examples=[("Download the logs of a run into ./logs.",
                           "aml run download-logs -r exp_1700000000_0a1b2c3d -d logs")])
    c.add_argument("-r", "--run", **run_arg)
    c.add_argument("-d", "--output-dir", required=True, metavar="DIR", help="folder to write the logs into")

    c = command(g, "update", "Add or remove tags of a run.", _update, table=[("RunId", "runId"), ("Tags", "tags")],
                examples=[("Tag a run.", "aml run update -r exp_1700000000_0a1b2c3d --add-tag quality=good "
                                         "--add-tag reviewed")])
    c.add_argument("-r", "--run", **run_arg)
    c.add_argument("--add-tag", action="extend", nargs="+", metavar="KEY=VALUE", help="tag to add or change")
    c.add_argument("--remove-tag", action="extend", nargs="+", metavar="KEY", help="tag to remove")

    c = command(g, "submit-script", "Submit a script to run; prints the run id and its web view link.",
                _submit_script, streams=True,
                table=[("RunId", "runId"), ("Experiment", "experimentName"), ("Status", "status"),
                       ("WebView", "portalUrl")],
                description="Submit a script to run (a ScriptRunConfig of --source-directory); prints the run id and "
                            "its web view link.\nWith --wait it streams the run's output and exits with its outcome "
                            "(0: Completed). Options of aml go before SCRIPT; what follows it goes to the script.",
                examples=[("Run train.py of this folder on this machine, with this Python, and wait.",
                           "aml run submit-script -e exp --user-managed --wait train.py --alpha 0.1"),
                          ("Run it on cluster cpu-cluster in an environment built from env.yml.",
                           "aml run submit-script -e exp --target cpu-cluster -d env.yml train.py"),
                          ("Use the run configuration .azureml/sklearn.runconfig.",
                           "aml run submit-script -e exp -c sklearn train.py")])
    c.add_argument("script", metavar="SCRIPT", help="the script, relative to --source-directory")
    c.add_argument("arguments", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments passed to the script")
    c.add_argument("-e", "--experiment-name", metavar="NAME", help="experiment (default: the attached folder's)")
    c.add_argument("--target", "--ct", dest="target", metavar="NAME",
                   help="compute target: 'local' (default) or a cluster's name")
    env = c.add_mutually_exclusive_group()
    env.add_argument("-d", "--conda-dependencies", metavar="FILE", help="environment from this conda YAML file")
    env.add_argument("--user-managed", action="store_true",
                     help="no environment build: run with this Python (or --python)")
    c.add_argument("--python", metavar="PATH", help="with --user-managed: the interpreter to run the script")
    c.add_argument("-c", "--run-configuration-name", metavar="NAME",
                   help="a run configuration saved in .azureml/NAME.runconfig of --source-directory")
    c.add_argument("--source-directory", default=".", metavar="DIR",
                   help="folder snapshotted and run from (default: .)")
    c.add_argument("--tag", dest="tags", action="append", metavar="KEY=VALUE", help="a tag of the run (repeatable)")
    c.add_argument("-t", "--output-metadata-file", metavar="FILE",
                   help="write {runId, experimentName} here (for aml model register -f)")
    waiting = c.add_mutually_exclusive_group()
    waiting.add_argument("--wait", action="store_true", help="stream the run's output and wait for it to end")
    waiting.add_argument("--async", dest="no_wait", action="store_true",
                         help="return once submitted (the default; accepted as az ml has it)")
