"""`aml studio`: the web view of this machine's embedded workspaces, on 127.0.0.1, without sign-in.

    aml studio [--path DIR] [--port 8765]

Serves the same pages as `aml server` over the embedded home folder (`$AZUREMLCORE_HOME`, or
`--path`), and records its URL in that folder so that `run.get_portal_url()` and the "Web View"
lines of `wait_for_completion` name pages of this studio.
"""
from __future__ import annotations

import argparse
import signal
import sys
from azuremlcore._cli._base import CLIError, Subparsers, command

SECTION = "This machine"
HELP = "Show the embedded workspaces' runs in a browser (the web view, on 127.0.0.1)."
TOP = {"studio": (SECTION, HELP)}


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _studio(args: argparse.Namespace) -> int:
    from pathlib import Path

    from azuremlcore._store import azuremlcore_home, studio_url

    home = Path(args.path).expanduser().resolve() if args.path else azuremlcore_home()
    if not (home / "workspaces.db").is_file():
        raise CLIError(f"No embedded workspaces in {home} (no workspaces.db): create one with Workspace.create(...), "
                       "or pass --path to the folder that holds them.")
    running = studio_url.running_url(home)
    if running:
        print(f"aml studio already serves {home} at {running}", file=sys.stderr)
        print(running)
        return 0
    port = args.port
    if port == 0:
        port = _free_port()
    elif not _port_free(port):
        raise CLIError(f"Port {port} of 127.0.0.1 is in use: pass another with --port.")
    from azuremlcore.server import ServerConfig, serve

    # The server's own files (its signing key) go to a folder of their own; data and artifacts are the home's.
    cfg = ServerConfig(data_dir=home / "studio", db_url=f"sqlite:///{home / 'workspaces.db'}",
                       artifact_root=home / "artifacts", open_access=True,
                       api_on_first_use=False)  # the web view is what studio is for: built before it is opened
    url = f"http://127.0.0.1:{port}"
    studio_url.record(home, url)
    print(f"aml studio: {home} at {url} (Ctrl+C stops it)", file=sys.stderr, flush=True)
    print(url, flush=True)
    # uvicorn re-raises the signal that stopped it once it has shut down: SIGTERM must then end this process
    # through `finally` (as Ctrl+C does), so the URL record goes with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(cfg, host="127.0.0.1", port=port)
    finally:
        studio_url.clear(home)
    return 0


def register(sub: Subparsers) -> None:
    """Add `aml studio` to `aml`."""
    from azuremlcore._store.studio_url import DEFAULT_PORT

    c = command(sub, "studio", HELP, _studio, workspace=False, raw=True,
                examples=[("Serve the embedded workspaces of this machine.", "aml studio"),
                          ("Another home folder, on another port.", "aml studio --path ./amlhome --port 9000")])
    c.add_argument("--path", default=None, metavar="DIR",
                   help="the embedded home folder (default: $AZUREMLCORE_HOME or ~/.azuremlcore)")
    c.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port on 127.0.0.1 (default: {DEFAULT_PORT}; 0 picks a free one)")
