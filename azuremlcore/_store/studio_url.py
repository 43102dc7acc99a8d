"""Where the web view of an embedded home is served: `aml studio` records its URL in the home folder.

`run.get_portal_url()` of an embedded workspace gives the page on the running studio when one is
up (the URL `aml studio` wrote into `<home>/studio.json`), else the page at the studio's default
address, which opens once the user starts `aml studio` (see `start_hint`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_PORT = 8765
FILE = "studio.json"


def record(home: Path, url: str) -> None:
    """Note that this process serves the studio of `home` at `url` (written atomically)."""
    home.mkdir(parents=True, exist_ok=True)
    tmp = home / f".{FILE}.{os.getpid()}"
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    os.replace(tmp, home / FILE)


def clear(home: Path) -> None:
    """Forget this process's studio (at exit); another process's record is left alone."""
    path = home / FILE
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def running_url(home: Path) -> str | None:
    """The URL of the studio serving `home` now, or None (no record, or its process is gone)."""
    try:
        info = json.loads((home / FILE).read_text())
        pid, url = int(info["pid"]), str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return url.rstrip("/")


def base_url(home: Path) -> str:
    """The running studio's URL, else the default one `aml studio` listens on."""
    return running_url(home) or f"http://127.0.0.1:{DEFAULT_PORT}"


def start_hint(home: Path) -> str:
    """The command that starts the studio for `home` (with --path unless it is the built-in default home).

    Compared with ~/.azuremlcore, not $AZUREMLCORE_HOME: a script may set that variable for itself
    (the demo does), and the shell the user types the command into would not have it.
    """
    default = (Path.home() / ".azuremlcore").resolve()
    return "aml studio" if home.resolve() == default else f"aml studio --path {home}"
