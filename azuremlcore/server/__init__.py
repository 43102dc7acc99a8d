"""The workspace server (`aml server`): many workspaces over HTTP for a team, secured by tokens.

`create_app(ServerConfig(data_dir=...))` builds the ASGI app; `serve(...)` runs it with uvicorn;
`issue_run_token(run_id, workspace_id, data_dir)` mints a token scoped to one run for the runner.
FastAPI and uvicorn load only when this package is imported, never with `import azuremlcore`.
"""
from __future__ import annotations

from azuremlcore.server.config import ServerConfig
from azuremlcore.server.state import issue_run_token


def create_app(config: ServerConfig, *, threadpool: bool = False):  # type: ignore[no-untyped-def]
    """The server's ASGI app for a config (see `azuremlcore.server.app.create_app`)."""
    from azuremlcore.server.app import create_app as _create

    return _create(config, threadpool=threadpool)


def serve(config: ServerConfig, host: str = "127.0.0.1", port: int = 5000, access_log: bool = False,
          threadpool: bool = False, tls_cert: str | None = None, tls_key: str | None = None) -> None:
    """Run the server in this process until interrupted (one process, one event loop); https with tls_cert/key."""
    import gc

    from azuremlcore.server import _pydantic_plugins, _uvicorn_serve

    _pydantic_plugins.switch_off()  # their scan was 10-90 ms of start-up; see the module
    # Start-up makes some hundred thousand objects that all live as long as the server; the collector's
    # passes over them while they are made were a tenth of the start-up's CPU time (measured). The same goes
    # for the FastAPI part's build. Collection is on in between: the build may come late or never
    # (`api_on_first_use`, or MLflow traffic that never pauses), and requests make cyclic garbage meanwhile.
    gc.disable()
    app = create_app(config, threadpool=threadpool)
    app.deferred.when_started(_resume_collection)
    app.deferred.when_building(gc.disable)
    app.deferred.when_built(_settle)
    # httptools (C HTTP parser) and uvloop come with the server extra; h11 and asyncio's loop cost about a
    # third more per request (measured with py-spy under bench_server).
    _uvicorn_serve.run(app, host=host, port=port, access_log=access_log, log_level="info", lifespan="on",
                       http="httptools" if _has("httptools") else "h11", loop="uvloop" if _has("uvloop") else "asyncio",
                       server_header=False, ssl_certfile=tls_cert, ssl_keyfile=tls_key, timeout_graceful_shutdown=5)


def _resume_collection() -> None:
    """Collection on again, over objects made from now on only (those made so far live as long as the server)."""
    import gc

    # No gc.collect() first: over start-up's ~130k objects it held the GIL 0.1-0.2 s, stalling the requests
    # of the first moments, to free a few hundred objects.
    gc.freeze()  # start-up's objects live for good: later collections need not walk them
    gc.enable()


def _settle() -> None:
    """Once the build has made everything it makes: collection on again (as `_resume_collection`), and the
    freed memory of the build (the building thread's malloc arena above all) returned to the system."""
    _resume_collection()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to return this way
        pass


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


__all__ = ["ServerConfig", "create_app", "serve", "issue_run_token"]
