# PYTHON_ARGCOMPLETE_OK
"""`aml`: the Azure ML v1 command line (`az ml ...`) for azuremlcore workspaces, and the server's admin commands.

Each command group lives in its own module of this package and registers its commands on the parser;
`main` parses, runs the command's handler (a thin call into the public SDK) and prints its result
with `--query` and `--output`. Errors are one `ERROR:` line with what to do and a non-zero exit
status; `--debug` adds the traceback. Only argparse is imported to build the parser, so
`aml --help` stays fast; the SDK, rich and jmespath load when a command needs them.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from typing import Any, Iterator, Sequence

from azuremlcore._cli._base import CLIError, Outcome, Spec, new_parser

# Command groups in the order `aml --help` lists them, by section.
_MODULES = ("folder", "workspace", "experiment", "run", "admin", "computetarget", "environment", "model", "service",
            "datastore", "alias", "sync", "studio", "completion")
# The module that registers each top-level name (its TOP), so that a command imports only its own module;
# tests/test_cli.py checks this against every module's TOP.
_OWNERS = {"login": "admin", "server": "admin", "sp": "admin", "token": "admin", "role": "admin", "principals": "admin",
           "device": "admin", **{name: name for name in _MODULES if name != "admin"}}
_SECTIONS = ("Workspaces and runs", "Assets", "Server administration (on the server's host)", "This machine")

DESCRIPTION = """\
The command line of azuremlcore, with the commands and options of the Azure ML v1 CLI (az ml ...).

Commands work on a workspace named with -w/-g, or the one in .azureml/config.json of the current
folder or a parent (aml folder attach writes it): embedded on this machine, or on a server
(aml login saves the server's token)."""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The `aml` parser: with `argv`, only the group it names is built (argparse's parsers are slow to make,
    mostly gettext lookups, so building all ~70 of them would double the time of a command); without it,
    or when argv names no group, every group is built (shell completion, the docs, usage errors)."""
    words = [a for a in (argv or ()) if not a.startswith("-")]
    owner = _OWNERS.get(words[0]) if words else None
    # A named group's module alone: the others' imports were 0.6 MiB of a long-lived `aml server` (measured).
    names = [owner] if owner else _MODULES
    modules = [importlib.import_module(f"azuremlcore._cli.{name}") for name in names]
    top = {name: (module, section, help) for module in modules for name, (section, help) in module.TOP.items()}
    parser = new_parser("aml", DESCRIPTION + "\n\n" + _listing(top) if not owner else DESCRIPTION)
    parser.add_argument("--version", dest="_show_version", action="store_true", help="show the version and exit")
    parser.epilog = ("Global arguments of every command: -o/--output table|json|jsonc|tsv|yaml|none, --query JMESPATH,"
                     "\n--only-show-errors, --verbose, --debug. `aml <group> -h` lists a group's commands.")
    # The groups are listed by section in the description instead of argparse's single block.
    sub = parser.add_subparsers(metavar="<group>", dest="_top", help=argparse.SUPPRESS)
    parser.usage = "aml [-h] [--version] <group> [<command>] [ARGS]"  # after add_subparsers: it derives their prog
    if argv is not None and not words:
        return parser  # `aml`, `aml --help`, `aml --version`: no group needed
    wanted = top.get(words[0]) if words else None
    if wanted and words[0] in getattr(wanted[0], "REGISTERS", {}):
        wanted[0].REGISTERS[words[0]](sub)  # a module of several top-level names builds the named one alone
        return parser
    for module in ([wanted[0]] if wanted else modules):
        module.register(sub)
    return parser


def _listing(top: dict[str, tuple[Any, str, str]]) -> str:
    """The groups and top-level commands, by section (argparse would list them in one block)."""
    lines = []
    for section in _SECTIONS:
        names = [n for n, (_, sec, _) in top.items() if sec == section]
        if names:
            lines.append(f"{section}:")
            lines += [f"  {n:<15}{top[n][2]}" for n in names]
    return "\n".join(lines)


def _version() -> str:
    import azuremlcore

    return f"aml {azuremlcore.__version__} (amlcore-open)\nPython {sys.version.split()[0]} ({sys.executable})"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `aml` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "_ARGCOMPLETE" in os.environ:  # shell completion asks: answer and exit (argcomplete loads only then)
        import argcomplete

        argcomplete.autocomplete(build_parser())
    parser = build_parser(argv)
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # reported by the command's own parser, so the message names the command and its help
            getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # -h, or a usage error already reported on stderr
        return exc.code if isinstance(exc.code, int) else 2
    if getattr(args, "_show_version", False):
        print(_version())
        return 0
    spec: Spec | None = getattr(args, "_spec", None)
    if spec is None:  # `aml` or `aml <group>` alone: what there is to run
        getattr(args, "_group", parser).print_help()
        return 0
    return _run(spec, args)


def _run(spec: Spec, args: argparse.Namespace) -> int:
    # --endpoint sets $AZUREMLCORE_ENDPOINT for the SDK; put it back afterwards (main() also runs in-process).
    endpoint = os.environ.get("AZUREMLCORE_ENDPOINT")
    try:
        with _logging(args):
            return _call(spec, args)
    finally:
        if endpoint is None:
            os.environ.pop("AZUREMLCORE_ENDPOINT", None)
        else:
            os.environ["AZUREMLCORE_ENDPOINT"] = endpoint


def _call(spec: Spec, args: argparse.Namespace) -> int:
    import contextlib

    try:
        if spec.raw:
            return int(spec.handler(args) or 0)
        # Only the result goes to stdout; what the SDK prints meanwhile goes to stderr (streaming commands
        # write the run's log to stdout themselves).
        quiet = contextlib.nullcontext() if spec.streams else contextlib.redirect_stdout(sys.stderr)
        with quiet:
            result = spec.handler(args)
        outcome = result if isinstance(result, Outcome) else Outcome(result)
        _print(outcome.data, spec, args)
        if outcome.error:
            _error(outcome.error, args, traceback=False)
        return outcome.code
    except KeyboardInterrupt:
        _error("Interrupted.", args, traceback=False)
        return 130
    except CLIError as exc:
        _error(str(exc), args)
        return exc.code
    except SystemExit as exc:  # a helper gave up with a message (aml alias on a broken interpreter)
        if isinstance(exc.code, int) or exc.code is None:
            return exc.code or 0
        _error(str(exc.code), args)
        return 1
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line (and a traceback with --debug)
        from azuremlcore.exceptions import AzureMLException

        if isinstance(exc, AzureMLException):
            _error(exc.message or str(exc), args)
        else:
            _error(f"{type(exc).__name__}: {exc} (run again with --debug for the traceback)", args)
        return 1


def _print(data: Any, spec: Spec, args: argparse.Namespace) -> None:
    from azuremlcore._cli._output import plain, query, render

    if data is None:
        return
    data = plain(data)
    if args.query:
        data = query(data, args.query)
    text = render(data, args.output, None if args.query else spec.table)
    if text:
        try:
            print(text, flush=True)
        except BrokenPipeError:  # `aml run list | head`: the reader has gone; not an error
            sys.stdout = open(os.devnull, "w")


def _error(message: str, args: argparse.Namespace, traceback: bool = True) -> None:
    if traceback and getattr(args, "debug", False):
        import traceback as tb

        tb.print_exc()
    print("ERROR: " + " ".join(str(message).split()), file=sys.stderr, flush=True)


@contextlib.contextmanager
def _logging(args: argparse.Namespace) -> Iterator[None]:
    """--debug: every log record; --verbose: INFO and up; --only-show-errors: no warnings. Undone afterwards."""
    import logging
    import warnings

    root, handler, old_level = logging.getLogger(), None, logging.getLogger().level
    debug, verbose, quiet = (getattr(args, a, False) for a in ("debug", "verbose", "only_show_errors"))
    if debug or verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.DEBUG if debug else logging.INFO)
    elif quiet:
        logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore")
            yield
    finally:
        if handler is not None:
            root.removeHandler(handler)
            root.setLevel(old_level)
        elif quiet:
            logging.disable(logging.NOTSET)


if __name__ == "__main__":
    sys.exit(main())
