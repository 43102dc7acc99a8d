"""`aml completion`: the shell code that completes `aml` commands and options (argcomplete's)."""
from __future__ import annotations

import argparse

from azuremlcore._cli._base import Subparsers, command

HELP = "Print the shell code that completes aml's commands and options."
TOP = {"completion": ("This machine", HELP)}  # what `aml --help` lists, without building the parsers


def _completion(args: argparse.Namespace) -> int:
    import argcomplete

    print(argcomplete.shellcode(["aml"], shell=args.shell))
    return 0


def register(sub: Subparsers) -> None:
    """Add `aml completion` to `aml`."""
    c = command(sub, "completion", HELP, _completion, workspace=False, raw=True,
                examples=[("Complete aml in bash (add this line to ~/.bashrc).", 'eval "$(aml completion)"'),
                          ("In zsh.", 'eval "$(aml completion --shell zsh)"')])
    c.add_argument("--shell", choices=["bash", "zsh", "fish", "tcsh", "powershell"], default="bash",
                   help="the shell (default: bash)")
