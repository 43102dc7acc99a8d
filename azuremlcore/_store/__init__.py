"""Workspace storage: the store protocol, its SQL backend and the file artifact store.

Heavy modules (SQLAlchemy) load only when a store is opened, so `import azuremlcore` stays fast.
"""
from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azuremlcore._store.artifacts import FileArtifactStore
    from azuremlcore._store.protocol import WorkspaceStore

_lock = threading.Lock()
_open: dict[tuple[int, str], tuple["WorkspaceStore", "FileArtifactStore"]] = {}


def azuremlcore_home() -> Path:
    """Where embedded workspaces live: $AZUREMLCORE_HOME, else ~/.azuremlcore."""
    raw = os.path.expanduser(os.environ.get("AZUREMLCORE_HOME") or "~/.azuremlcore")
    return _resolved(raw, None if os.path.isabs(raw) else os.getcwd())


@functools.lru_cache(maxsize=64)
def _resolved(path: str, cwd: str | None) -> Path:
    # Resolving walks every component of the path (about 40 µs), and the credentials file under the home is looked
    # at for each MLflow request to a server (twice). cwd is only part of the memo's key: a relative home is
    # resolved again from another current folder (None for an absolute one).
    return Path(path).resolve()


def open_embedded(home: Path | None = None) -> tuple["WorkspaceStore", "FileArtifactStore"]:
    """The store and artifact store of an embedded home folder, opened once per process."""
    home = Path(home) if home is not None else azuremlcore_home()
    key = (os.getpid(), str(home))  # a forked child must not reuse its parent's connections
    with _lock:
        if key not in _open:
            from azuremlcore._store.artifacts import FileArtifactStore
            from azuremlcore._store.sql import SqlWorkspaceStore

            home.mkdir(parents=True, exist_ok=True)
            store = SqlWorkspaceStore(f"sqlite:///{home / 'workspaces.db'}")
            _open[key] = (store, FileArtifactStore(home / "artifacts"))
        return _open[key]
