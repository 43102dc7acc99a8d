"""uvicorn's server without its command line: `aml server` runs `uvicorn.Server` and never loads `uvicorn.main`.

`uvicorn/__init__` imports `uvicorn.main` for `uvicorn.run`, and with it click, multiprocessing and the
reload and worker supervisors: 2.1 MiB of an idle server (its private memory) and 15-25 ms of start-up
CPU (measured), none of which one process with one event loop uses. Here `uvicorn` is registered as a
package whose body has not run, with the names its body binds (`Config`, `Server`, `__version__`)
set from the submodules that hold them; `main` and `run` load `uvicorn.main` when first asked for, so
other code importing uvicorn in this process sees the package it expects.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_LATE = ("main", "run")  # what uvicorn's body binds from `uvicorn.main`, loaded at first use


def _package_without_body() -> types.ModuleType:
    spec = importlib.util.find_spec("uvicorn")
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError("uvicorn is not installed: pip install 'azuremlcore[server]'")
    package = importlib.util.module_from_spec(spec)

    def late(name: str) -> Any:
        if name in _LATE:
            return getattr(importlib.import_module("uvicorn.main"), name)
        raise AttributeError(f"module 'uvicorn' has no attribute {name!r}")

    package.__getattr__ = late  # type: ignore[method-assign]  # PEP 562: asked only for names not set
    sys.modules["uvicorn"] = package
    try:
        from uvicorn._version import __version__
        from uvicorn.config import Config
        from uvicorn.server import Server
    except BaseException:
        del sys.modules["uvicorn"]  # the real package loads instead, at the caller's `import uvicorn`
        raise
    package.__version__, package.Config, package.Server = __version__, Config, Server
    package.__all__ = ["main", "run", "Config", "Server"]
    return package


def _default_logging(use_colors: bool | None) -> None:
    """What `logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)` sets up, set directly: uvicorn's two
    formatters and stream handlers on its `uvicorn` and `uvicorn.access` loggers, at INFO, not propagated."""
    import logging

    from uvicorn.logging import AccessFormatter, DefaultFormatter

    for name, formatter, stream in (
            ("uvicorn", DefaultFormatter("%(levelprefix)s %(message)s", use_colors=use_colors), sys.stderr),
            ("uvicorn.access", AccessFormatter('%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
                                               use_colors=use_colors), sys.stdout)):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        logger = logging.getLogger(name)
        for old in logger.handlers[:]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)


def run(app: Any, **options: Any) -> None:
    """`uvicorn.run(app, **options)` for one process without reload: serve app until interrupted.

    Exits with uvicorn's start-up failure status (3) when the server could not start (a port in use),
    as `uvicorn.run` does.
    """
    if "uvicorn" not in sys.modules:
        try:
            _package_without_body()
        except ImportError:
            pass  # uvicorn's layout changed: its own package body below
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    if "log_config" not in options:
        # uvicorn's default configuration, set without `logging.config` (its import, with configparser,
        # socketserver and logging.handlers, took 17 ms at load 5, measured; `aml server` defers it, see
        # `_cli/_deferred_imports`).
        _default_logging(options.get("use_colors"))
        options["log_config"] = None
    server = uvicorn.Server(uvicorn.Config(app, **options))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:
        sys.exit(STARTUP_FAILURE)
