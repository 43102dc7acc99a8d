"""Modules that `aml server`'s libraries import but none of its requests reads: their bodies run at first use.

Some library modules are imported at start-up only to bind a name that no request ever reads: SQLAlchemy's
SQLite and PostgreSQL packages import every driver's dialect, Starlette binds `http.client` for the reason
phrase of an exception without one, uvicorn binds `logging.config` for a logging configuration `aml server`
does not give it (`_uvicorn_serve` sets up uvicorn's loggers itself), `tempfile` binds `shutil`, and so on
(`SERVER_DEFERRED`). Not running their bodies took 40 M instructions (2.7 %) off a SQLite server's start and
1.5 MiB off its idle private memory (measured: docs/performance.md, "Start-up, fourth round").

`defer(names)` has each such module, when first imported, bound as usual but with its body not run; the
first read of any attribute it does not have yet (from any thread: a lock makes the others wait) runs the
body, as the import would have, and from then on it is the ordinary module. A name already imported is left
alone. Only the `aml server` command calls it, before it imports the server: an application, not the SDK, decides
what its process loads.
"""
from __future__ import annotations

import sys
import threading
import types
from importlib.machinery import ModuleSpec, SourceFileLoader
from typing import Any, Iterable

# By who binds them; each is read only when a request or tool needs it (checked: at /health and after the first
# calls of each kind the SDK and MLflow's client make, none of them had run; tests/test_server_startup4.py).
SERVER_DEFERRED = (
    "sqlalchemy.dialects.sqlite.aiosqlite",  # the SQLite package's __init__: dialects the server never uses
    "sqlalchemy.dialects.sqlite.pysqlcipher",
    # The PostgreSQL package's __init__ imports every driver's dialect; the server connects through psycopg (3).
    "sqlalchemy.dialects.postgresql.asyncpg",
    "sqlalchemy.dialects.postgresql.pg8000",
    "sqlalchemy.dialects.postgresql.psycopg2",
    "sqlalchemy.dialects.postgresql.psycopg2cffi",
    "http.client",  # starlette.exceptions: the reason phrase of an HTTPException given no detail
    "logging.config",  # uvicorn.config: dictConfig of a log_config, which `_uvicorn_serve` does not pass
    "shutil",  # tempfile (for its rmtree); with it the archive machinery
    "zipfile",  # importlib.metadata (pydantic's plugin loader): distributions in zip files
    "bz2",  # shutil, zipfile: compressed archives (each loads a C library)
    "lzma",
    "ctypes.util",  # psycopg.pq.misc: finding libpq's file, when asked (its ctypes implementation reads it)
    "csv",  # importlib.metadata: a distribution's RECORD
    "email.header",  # email's parser and message (http.client, email.utils): encoded headers
    "calendar",  # email._parseaddr (email.utils): parsing dates
    "anyio.to_thread",  # starlette.concurrency: worker threads (the lease sweep a second after start, --threadpool)
)

_lock = threading.RLock()


class _Deferred(types.ModuleType):
    """A module whose body runs at the first read of an attribute it lacks (PEP 562's hook, on the class)."""

    def __getattr__(self, name: str) -> Any:
        with _lock:
            if type(self) is _Deferred:
                if self.__dict__.get("_deferred_running"):
                    # Its own body (or an import cycle through it) reading a name not bound yet: as an
                    # ordinary module being imported would answer.
                    raise AttributeError(f"partially initialized module {self.__name__!r} has no attribute {name!r}")
                self.__dict__["_deferred_running"] = True
                try:
                    self.__spec__.loader_state.exec_module(self)  # type: ignore[union-attr]
                except BaseException:
                    sys.modules.pop(self.__name__, None)  # the next import tries again, as after a failed import
                    raise
                finally:
                    self.__dict__.pop("_deferred_running", None)
                self.__class__ = types.ModuleType
        return types.ModuleType.__getattribute__(self, name)


class _DeferringLoader:
    """Loads a module as `_Deferred`: the import binds it (in `sys.modules` and on its package) but runs nothing."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__.loader = self.loader  # type: ignore[union-attr]  # who asks later sees the real loader
        module.__spec__.loader_state = self.loader  # type: ignore[union-attr]
        module.__loader__ = self.loader
        module.__class__ = _Deferred


class _Finder:
    """Finds the named modules as the other finders do, with their bodies deferred."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = set(names)

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if name not in self.names:
            return None
        self.names.discard(name)  # once: a later import (after a failed body) is an ordinary one
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if not isinstance(spec.loader, SourceFileLoader) or spec.submodule_search_locations is not None:
            return spec  # a package, a built-in, frozen or extension module: imported as usual
        spec.loader = _DeferringLoader(spec.loader)
        return spec


def defer(names: Iterable[str]) -> None:
    """From now on, import each named module (not imported yet) with its body deferred to its first use.

    The import itself binds the module as usual (in `sys.modules`, on its package, in the importer's
    namespace); only its body waits. Packages and modules not loaded from Python source are imported as
    usual. A name not found is left to the import system (its importer then fails or copes as it would have).
    """
    sys.meta_path.insert(0, _Finder(name for name in names if name not in sys.modules))
