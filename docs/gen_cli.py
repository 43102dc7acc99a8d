"""Write docs/cli.md from `aml`'s own parser: every command with its arguments and examples.

    python docs/gen_cli.py           # rewrite docs/cli.md
    python docs/gen_cli.py --check   # exit 1 when docs/cli.md differs from what would be written

tests/test_cli_docs.py runs the check, so the page cannot drift from the command line.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "cli.md"

INTRO = """\
# The command line (`aml`)

<!-- Written by `python docs/gen_cli.py` from aml's parser; edit the commands, not this page
     (tests/test_cli_docs.py fails when they differ). -->

`aml` has the command groups and option names of the Azure ML v1 CLI extension (`az ml folder`,
`workspace`, `experiment`, `run`, `computetarget`, `environment`, `model`, `service`, `datastore`),
plus the server's administration commands. Each command is a thin call into the public SDK.

**Which workspace.** `-w NAME [-g RG] [--subscription-id ID]` names one; otherwise the nearest
`.azureml/config.json` from `--path` (default: the current folder) upwards, as
`Workspace.from_config()` finds it. `aml folder attach -w NAME [-g RG] [-e EXP]` writes that file
(`-e` records the default experiment of `run submit-script`). The workspace is embedded (on this
machine, in `$AZUREMLCORE_HOME`) unless the config file has an `endpoint`, `--endpoint URL` is given or
`$AZUREMLCORE_ENDPOINT` is set: then it is on that server, with the token `aml login` saved (or
`$AZUREMLCORE_TOKEN`).

**Output.** `-o/--output` `table` (default: readable columns), `json`, `jsonc` (coloured), `tsv` (one
line per item, values separated by tabs, for shell scripts), `yaml` or `none`; `--query` applies a
JMESPath expression first (`aml run list --query "[?status=='Failed'].runId" -o tsv`). Only the result
goes to stdout; notes and progress go to stderr.

**Errors** are one line, `ERROR: what went wrong and what to do`, with a non-zero exit status: 1 for
failures, 2 for usage errors, 130 when interrupted; `--debug` adds the traceback. `run submit-script
--wait` and `run monitor-logs` exit 0 when the run Completed and 1 otherwise.

**Progress.** Uploads, downloads and followed runs show progress (rich) on a terminal; never with
`--only-show-errors` or when stderr is not a terminal.

**Completion.** `eval "$(aml completion)"` in `~/.bashrc` (`--shell zsh|fish|tcsh|powershell` for
other shells) completes groups, commands and options.

**Differences from `az ml`.** `run download-logs` takes the folder as `-d/--output-dir` (`-o` is the
output format everywhere); `run submit-script` returns once submitted unless `--wait`; commands that
need Azure (`az ml computetarget attach`, AKS/ACI deployment, pipelines, `run submit-hyperdrive`) are
absent; `aml sync` and `computetarget attach` wait for offline runs and remote compute in the SDK.
"""


def _parser() -> argparse.ArgumentParser:
    from azuremlcore._cli.main import build_parser

    return build_parser()


def _children(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subs[0].choices) if subs else {}


def _leaves(parser: argparse.ArgumentParser, path: list[str]) -> list[tuple[list[str], argparse.ArgumentParser]]:
    children = _children(parser)
    if not children:
        return [(path, parser)]
    return [leaf for name, child in children.items() for leaf in _leaves(child, path + [name])]


def _invocation(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    value = "" if action.nargs == 0 else f" {action.metavar or action.dest.upper()}"
    return ", ".join(f"`{opt}{value}`" for opt in action.option_strings)


def _rows(actions: list[argparse.Action]) -> list[str]:
    rows = []
    for a in actions:
        if isinstance(a, argparse._HelpAction):
            continue
        text = (a.help or "").replace("|", "\\|")
        if a.choices and not isinstance(a, argparse._SubParsersAction):
            text += f" (one of: {', '.join(map(str, a.choices))})"
        if a.required and a.nargs != argparse.REMAINDER:
            text += " **required**"
        rows.append(f"| {_invocation(a)} | {text} |")
    return rows


def _group_actions(parser: argparse.ArgumentParser, title: str) -> list[argparse.Action]:
    return next((g._group_actions for g in parser._action_groups if g.title == title), [])


def render() -> str:
    """The page's text."""
    from azuremlcore._cli import main as cli_main

    parser = _parser()
    leaves = _leaves(parser, [])
    sample = next(p for path, p in leaves if path[:2] == ["run", "list"])
    lines = [INTRO, "## Arguments every command takes", "", "| argument | meaning |", "|---|---|",
             *_rows(_group_actions(sample, "Global Arguments")), "",
             "Commands that work on a workspace (\"Takes the workspace arguments\" below) also take:", "",
             "| argument | meaning |", "|---|---|", *_rows(_group_actions(sample, "Workspace Arguments")), ""]
    modules = [__import__(f"azuremlcore._cli.{m}", fromlist=["TOP"]) for m in cli_main._MODULES]
    top = {name: section for module in modules for name, (section, _) in module.TOP.items()}
    for section in cli_main._SECTIONS:
        lines += [f"## {section}", ""]
        for path, leaf in leaves:
            if top[path[0]] != section:
                continue
            spec = leaf.get_default("_spec")
            own = [a for g in leaf._action_groups if g.title not in ("Global Arguments", "Workspace Arguments")
                   for a in g._group_actions if not isinstance(a, argparse._HelpAction)]
            lines += [f"### aml {' '.join(path)}", "", (leaf.description or "").replace("\n", " "), ""]
            if spec.workspace:
                lines += ["Takes the workspace arguments.", ""]
            if own:
                lines += ["| argument | meaning |", "|---|---|", *_rows(own), ""]
            for what, example in spec.examples:
                lines += [f"{what}", "", "```bash", example, "```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the page, or with --check say whether it is up to date."""
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    text = render()
    if check:
        if not PAGE.exists() or PAGE.read_text() != text:
            print(f"{PAGE} is out of date: run python docs/gen_cli.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
