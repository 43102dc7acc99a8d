"""`aml alias enable|disable|status [--python PATH]`: the `azureml` import alias for a whole interpreter.

`enable` writes a ``.pth`` file into the interpreter's site-packages (its purelib, as the
interpreter itself reports it): at every start it runs the SDK's start-up hooks and installs the
alias, so notebooks and scripts written for ``azureml.core`` run there unchanged. Setting
``AZUREMLCORE_AZUREML_ALIAS=0`` turns it off for one process. `disable` removes the file.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Callable

    from azuremlcore._cli._base import Subparsers

PTH_NAME = "azuremlcore_azureml_alias.pth"
# Asked of the target interpreter: where its packages go, and what `azureml.core` resolves to there now.
_PROBE = r"""
import json, os, sys, sysconfig
out = {"purelib": sysconfig.get_paths()["purelib"], "version": sys.version.split()[0], "sdk": None, "core": None}
try:
    import azuremlcore
    out["sdk"] = {"version": azuremlcore.__version__, "path": os.path.dirname(azuremlcore.__file__)}
except Exception as exc:
    out["sdk_error"] = "%s: %s" % (type(exc).__name__, exc)
try:
    import azureml.core as core
    out["core"] = {"alias": bool(getattr(core, "__azuremlcore_alias__", None)),
                   "path": getattr(core, "__file__", None), "version": getattr(core, "VERSION", None)}
except Exception as exc:
    out["core_error"] = "%s: %s" % (type(exc).__name__, exc)
print(json.dumps(out))
"""


def pth_content() -> str:
    """The file's lines: the SDK's start-up hooks, then the alias itself (each line is run by `site`)."""
    from azuremlcore._startup_names import PTH_LINE

    return PTH_LINE + "import azuremlcore._alias as _a; _a.install_from_pth()\n"


def _python(arg: str | None) -> str:
    if not arg:
        return sys.executable
    path = Path(arg).expanduser()
    if path.is_dir():  # a virtualenv's folder: its interpreter
        for candidate in (path / "bin" / "python", path / "Scripts" / "python.exe"):
            if candidate.exists():
                return str(candidate)
    return str(path)


def probe(python: str) -> dict:
    """What `python` reports about itself (purelib, version, azuremlcore and azureml.core there)."""
    import tempfile

    env = {k: v for k, v in os.environ.items() if k != "AZUREMLCORE_AZUREML_ALIAS"}
    try:
        # From an empty folder: `-c` puts the current folder on sys.path, which start-up (.pth) imports never see.
        with tempfile.TemporaryDirectory() as cwd:
            done = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, timeout=120, env=env,
                                  stdin=subprocess.DEVNULL, cwd=cwd)
    except OSError as exc:
        raise SystemExit(f"aml alias: cannot run {python}: {exc}") from None
    if done.returncode != 0:
        raise SystemExit(f"aml alias: {python} failed to report its paths:\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(text)
    os.replace(tmp, path)


def enable(python: str) -> int:
    """Write the `.pth` file; refuses an interpreter that cannot import azuremlcore (the file would fail at start)."""
    info = probe(python)
    if info.get("sdk") is None:
        print(f"aml alias: {python} cannot import azuremlcore ({info.get('sdk_error')}); install the SDK into it "
              f"first (e.g. `uv pip install --python {python} amlcore-open`).", file=sys.stderr)
        return 1
    pth = Path(info["purelib"]) / PTH_NAME
    pth.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write(pth, pth_content())
    except OSError as exc:
        print(f"aml alias: cannot write {pth}: {exc}", file=sys.stderr)
        return 1
    print(f"azureml alias enabled for {python}: wrote {pth}")
    core = info.get("core")
    if core and not core["alias"]:
        print(f"note: a real azureml.core is installed there ({core['path']}); it is used, the alias stands down.")
    return 0


def disable(python: str) -> int:
    """Remove the `.pth` file (nothing to do when it is absent)."""
    pth = Path(probe(python)["purelib"]) / PTH_NAME
    if not pth.exists():
        print(f"azureml alias was not enabled for {python} (no {pth})")
        return 0
    pth.unlink()
    print(f"azureml alias disabled for {python}: removed {pth}")
    if os.environ.get("AZUREMLCORE_AZUREML_ALIAS"):
        print("note: AZUREMLCORE_AZUREML_ALIAS is set in this shell; SDK-built environments still honour it.")
    return 0


def status(python: str) -> int:
    """Print whether the alias is enabled for the interpreter and what `azureml.core` resolves to there."""
    info = probe(python)
    pth = Path(info["purelib"]) / PTH_NAME
    print(f"interpreter: {python} (Python {info['version']})")
    print(f"alias .pth: {pth} ({'present' if pth.exists() else 'absent'})")
    print(f"AZUREMLCORE_AZUREML_ALIAS: {os.environ.get('AZUREMLCORE_AZUREML_ALIAS', '(unset)')}")
    sdk = info.get("sdk")
    print(f"azuremlcore: {sdk['version']} at {sdk['path']}" if sdk else f"azuremlcore: not importable "
          f"({info.get('sdk_error')})")
    core = info.get("core")
    if core is None:
        print(f"azureml.core: not importable ({info.get('core_error')})")
    elif core["alias"]:
        print(f"azureml.core: azuremlcore {core['version']} (alias)")
    else:
        print(f"azureml.core: the real SDK at {core['path']}")
    return 0


TOP = {"alias": ("This machine", "Make `import azureml.core` use this SDK in an interpreter.")}


def register(sub: "Subparsers") -> None:
    """Add `aml alias enable|disable|status [--python PATH]` to `aml`."""
    from azuremlcore._cli._base import command, group

    al = group(sub, "alias", TOP["alias"][1])
    for name, text, action in (
            ("enable", "Write the alias .pth into the interpreter's site-packages.", enable),
            ("disable", "Remove the alias .pth.", disable),
            ("status", "Show whether the alias is enabled and what azureml.core resolves to.", status)):
        c = command(al, name, text, _runner(action), workspace=False, raw=True,
                    examples=[(text, f"aml alias {name} --python .venv")])
        c.add_argument("--python", default=None, metavar="PATH",
                       help="the interpreter (or a virtualenv folder); default: the one running aml")


def _runner(action: "Callable[[str], int]") -> "Callable[[argparse.Namespace], int]":
    return lambda args: action(_python(args.python))
