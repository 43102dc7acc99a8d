"""The ASGI application: the workspace API, files, the OIDC issuer and the MLflow REST API."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from azuremlcore._store.errors import StoreError
from azuremlcore.exceptions import UserErrorException
from azuremlcore.server._common import json_response, validation_message
from azuremlcore.server.config import ServerConfig
from azuremlcore.server.middleware import BodyTooLarge, GuardMiddleware
from azuremlcore.server.security.authz import AuthError
from azuremlcore.server.state import ServerState

_log = logging.getLogger("azuremlcore.server")


def _error(status: int, code: str, message: str) -> Response:
    return json_response({"error_code": code, "message": message, "error": {"code": code, "message": message}},
                         status)


async def _watch_runs(state: ServerState) -> None:
    """Fail runs whose runner is gone or whose lease lapsed: at start (runners that died while the server was
    down) and every `lease_sweep_s` after (runners killed outright; nobody waits on them after a restart)."""
    from anyio import to_thread

    from azuremlcore._execution import lease

    while True:
        try:
            failed = await to_thread.run_sync(lease.sweep, state.store)
            if failed:
                _log.warning("Runs whose runner is gone or stopped renewing its lease, marked Failed: %s",
                             ", ".join(failed))
        except Exception:  # noqa: BLE001 - a failed sweep is retried; the server must go on serving
            _log.exception("Sweeping runs with lapsed leases failed")
        await asyncio.sleep(state.config.lease_sweep_s)


def create_app(config: ServerConfig, *, threadpool: bool = False) -> Any:
    """The server as an ASGI app (wrapped in the authentication guard).

    threadpool=True runs each store call in a worker thread instead of inline on the event loop.
    """
    from azuremlcore.server import routes_files, routes_jobs, routes_oidc, routes_workspace

    state = ServerState(config)
    # /docs is the web view's (swagger-ui served from the package, no CDN); /redoc would load from a CDN.
    app = FastAPI(title="azuremlcore workspace server", version="1", docs_url=None, redoc_url=None,
                  description="Workspaces, experiments, runs, metrics, files, assets and secrets; MLflow REST API "
                              "under each workspace's path; the web view at /. Every route but /health, the sign-in "
                              "pages and static files needs a bearer token (or a browser session from /login).")
    app.state.server = state
    app.state.threadpool = threadpool

    @app.exception_handler(StoreError)
    async def _store_error(_: Request, exc: StoreError) -> Response:
        return _error(exc.http_status, exc.error_code, str(exc))

    @app.exception_handler(AuthError)
    async def _auth_error(_: Request, exc: AuthError) -> Response:
        return _error(exc.status, exc.error_code, str(exc))

    @app.exception_handler(UserErrorException)
    async def _user_error(_: Request, exc: UserErrorException) -> Response:
        return _error(400, "INVALID_PARAMETER_VALUE", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        return _error(400, "INVALID_PARAMETER_VALUE", validation_message(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        # Starlette's own answers (no such route, method not allowed) in the server's error shape too.
        code = "ENDPOINT_NOT_FOUND" if exc.status_code in (404, 405) else "BAD_REQUEST"
        response = _error(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_: Request, exc: BodyTooLarge) -> Response:
        return _error(413, "REQUEST_LIMIT_EXCEEDED", str(exc))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        _log.exception("Internal error on %s %s", request.method, request.url.path)
        return _error(500, "INTERNAL_ERROR", f"Internal server error ({exc.__class__.__name__}); see the server log.")

    app.include_router(routes_workspace.router)
    app.include_router(routes_files.router)
    app.include_router(routes_oidc.router)
    app.include_router(routes_jobs.router)
    import importlib.util

    if importlib.util.find_spec("mlflow") is not None:  # without mlflow the workspace API still works
        from azuremlcore.server import routes_mlflow  # light: MLflow itself loads on the first MLflow request

        routes_mlflow.install(app)
        from azuremlcore.server import routes_registry  # the model registry routes go in front of MLflow's

        routes_registry.install(app)
    from azuremlcore.server import openapi, web

    web.install(app)

    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign]
    watcher: list[asyncio.Task] = []

    async def _start_watching() -> None:
        watcher.append(asyncio.create_task(_watch_runs(state)))

    async def _stop_watching() -> None:
        for task in watcher:
            task.cancel()

    app.router.add_event_handler("startup", _start_watching)
    app.router.add_event_handler("shutdown", _stop_watching)
    app.router.add_event_handler("shutdown", state.close)
    from azuremlcore.server.security.ratelimit import Limit, RateLimiter

    limiter = RateLimiter({name: Limit(burst, per_minute) for name, (burst, per_minute) in config.rate_limits.items()})
    guarded = GuardMiddleware(app, state.auth, config.max_json_bytes, limiter, open_access=config.open_access)
    guarded.state = state  # type: ignore[attr-defined]
    guarded.fastapi = app  # type: ignore[attr-defined]
    return guarded
