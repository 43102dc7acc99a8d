"""What every `aml` command shares: how a command is declared, its global and workspace arguments.

A command group module (`run.py`, `model.py`, ...) has a `register(sub)` function that declares its
commands with `group()` and `command()`; each command's handler takes the parsed arguments and
returns plain data (dicts, lists, strings), which `main` filters with `--query` and prints in the
`--output` format. Handlers import the SDK inside their body: building the parser for
`aml --help` must not import it.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any, Callable, Sequence

OUTPUT_FORMATS = ("table", "json", "jsonc", "tsv", "yaml", "none")
Subparsers = Any  # argparse's _SubParsersAction (private generic), kept out of the signatures


class CLIError(Exception):
    """An error shown as one line (`ERROR: ...`) that says what to do; `code` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Spec:
    """How `main` runs a command: its handler and how its result is shown.

    `table` lists (column header, dotted key) pairs for `-o table`; `streams` marks handlers that
    write a run's log to stdout themselves (everything else the SDK prints goes to stderr, so that
    stdout holds only the result); `raw` marks the admin commands, which print their own output
    and return an exit status.
    """

    # A plain class: dataclasses cost ~15 ms of import, on the path of every command.
    __slots__ = ("handler", "table", "examples", "streams", "raw", "workspace")

    def __init__(self, handler: Callable[[argparse.Namespace], Any], table: tuple[tuple[str, str], ...] | None,
                 examples: tuple[tuple[str, str], ...], streams: bool, raw: bool, workspace: bool) -> None:
        self.handler, self.table, self.examples = handler, table, examples
        self.streams, self.raw, self.workspace = streams, raw, workspace


class Outcome:
    """A handler's result with an exit status: `data` is printed, then `error` (if any) as an ERROR line."""

    __slots__ = ("data", "code", "error")

    def __init__(self, data: Any, code: int = 0, error: str | None = None) -> None:
        self.data, self.code, self.error = data, code, error


def sdk_output_to_stderr() -> contextlib.AbstractContextManager[Any]:
    """Within the block, what the SDK prints (progress notes, `Registering model ...`) goes to stderr."""
    return contextlib.redirect_stdout(sys.stderr)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one `ERROR:` line saying where to look, exit status 2."""

    def error(self, message: str) -> Any:  # argparse's signature: never returns
        sys.stderr.write(f"ERROR: {self.prog}: {message}. See `{self.prog} -h`.\n")
        raise SystemExit(2)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=34, width=100)

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        # argparse measures a group's command names without the indentation it prints them with, so
        # names like `download-logs` would wrap onto their own line: count it.
        if isinstance(action, argparse._SubParsersAction) and action.help is not argparse.SUPPRESS:
            longest = max((len(a.metavar or a.dest) for a in action._get_subactions()), default=0)
            self._action_max_length = max(self._action_max_length, longest + self._current_indent + 4)


def new_parser(prog: str, description: str, epilog: str | None = None) -> Parser:
    """A parser with the CLI's help layout (descriptions and examples kept as written)."""
    return Parser(prog=prog, description=description, epilog=epilog, formatter_class=_Formatter, add_help=True)


def group(sub: Subparsers, name: str, help: str) -> Subparsers:
    """Declare `aml <name>`: a group of commands; returns the sub-parsers to add its commands to."""
    p = sub.add_parser(name, help=help, description=help, formatter_class=_Formatter)
    p.set_defaults(_group=p)
    return p.add_subparsers(title="Commands", metavar="<command>", dest="_command_" + name.replace("-", "_"))


def command(sub: Subparsers, name: str, help: str, handler: Callable[[argparse.Namespace], Any], *,
            examples: Sequence[tuple[str, str]] = (), table: Sequence[tuple[str, str]] | None = None,
            workspace: bool = True, streams: bool = False, raw: bool = False,
            description: str | None = None) -> argparse.ArgumentParser:
    """Declare one command; returns its parser so the caller adds the command's own arguments.

    `workspace=True` adds the workspace arguments (-w, -g, --subscription-id, --path, --endpoint);
    every command but the raw admin ones gets the global arguments (-o, --query, ...).
    """
    text = description or help
    epilog = "Examples:\n" + "\n".join(f"  {what}\n    {line}\n" for what, line in examples) if examples else None
    p = sub.add_parser(name, help=help, description=text, epilog=epilog, formatter_class=_Formatter)
    spec = Spec(handler, tuple(table) if table else None, tuple(examples), streams, raw, workspace)
    p.set_defaults(_spec=spec, _parser=p)
    if workspace:
        add_workspace_args(p)
    if not raw:
        add_global_args(p)
    return p


def add_workspace_args(p: argparse.ArgumentParser) -> None:
    """-w/-g/--subscription-id name a workspace; otherwise the config file found from --path is used."""
    g = p.add_argument_group("Workspace Arguments")
    g.add_argument("-w", "--workspace-name", metavar="NAME",
                   help="workspace name (default: the one in .azureml/config.json found from --path)")
    g.add_argument("-g", "--resource-group", metavar="RG", help="resource group of the workspace")
    g.add_argument("--subscription-id", metavar="ID", help="subscription id of the workspace")
    g.add_argument("--path", default=".", metavar="DIR",
                   help="folder to look for the workspace config file in, then its parents (default: .)")
    g.add_argument("--endpoint", metavar="URL",
                   help="a workspace server (default: the config file's, else $AZUREMLCORE_ENDPOINT; none: embedded)")


def add_global_args(p: argparse.ArgumentParser) -> None:
    """The arguments of the az CLI that every command takes."""
    g = p.add_argument_group("Global Arguments")
    g.add_argument("-o", "--output", choices=OUTPUT_FORMATS, default="table", metavar="FORMAT",
                   help="output format: table (default), json, jsonc, tsv, yaml or none")
    g.add_argument("--query", metavar="JMESPATH", help="JMESPath query applied to the result (https://jmespath.org)")
    g.add_argument("--only-show-errors", action="store_true", help="show only errors: no warnings, no progress")
    g.add_argument("--verbose", action="store_true", help="log more (INFO)")
    g.add_argument("--debug", action="store_true", help="log everything (DEBUG) and show tracebacks")


def key_values(pairs: Sequence[str] | None, option: str) -> dict[str, str]:
    """`['k=v', 'k2=v2']` as a dict; `k` alone means an empty value. A CLIError names a malformed pair."""
    out: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not key:
            raise CLIError(f"{option} {pair!r}: use KEY=VALUE.", code=2)
        out[key] = value if sep else ""
    return out
