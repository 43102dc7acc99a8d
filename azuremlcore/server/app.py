"""The ASGI application: the workspace API, files, the OIDC issuer and the MLflow REST API."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from azuremlcore._store.errors import StoreError
from azuremlcore.exceptions import UserErrorException
from azuremlcore.server._api_front import WorkspaceFront, error_answer, error_response, internal_error
from azuremlcore.server._common import add_routes, validation_message
from azuremlcore.server.config import ServerConfig
from azuremlcore.server.middleware import BodyTooLarge, GuardMiddleware
from azuremlcore.server.security.authz import AuthError
from azuremlcore.server.state import ServerState

_log = logging.getLogger("azuremlcore.server")
FIRST_SWEEP_AFTER_S = 1.0


async def _watch_runs(state: ServerState) -> None:
    """Fail runs whose runner is gone or whose lease lapsed: just after start (runners that died while the server
    was down) and every `lease_sweep_s` after (runners killed outright; nobody waits on them after a restart)."""
    # The first sweep (its imports, a worker thread, a query) ran as the server bound its socket: /health
    # answered 20-25 ms later than without it (measured); a second later no request is waiting on it.
    await asyncio.sleep(min(FIRST_SWEEP_AFTER_S, state.config.lease_sweep_s))
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
    The store, the guard, the MLflow tracking API and the workspace API (`_api_front`, its routes loaded
    at the first quiet moment or first call) are ready on return; the FastAPI app (issuer, registry, web
    view, the OpenAPI document) is built at its first request, or with `config.api_on_first_use=False` in
    a thread at the first quiet moment after the server's lifespan starts (see `_deferred_app`).
    """
    import importlib.util

    from starlette.datastructures import State

    from azuremlcore.server._deferred_app import DeferredApp

    state = ServerState(config)
    watcher: list[asyncio.Task] = []

    async def _start_watching() -> None:
        watcher.append(asyncio.create_task(_watch_runs(state)))

    async def _stop_watching() -> None:
        for task in watcher:
            task.cancel()
        state.close()

    has_mlflow = importlib.util.find_spec("mlflow") is not None  # without mlflow the workspace API still works
    deferred = DeferredApp(lambda: _build_fastapi(state, threadpool, has_mlflow), _start_watching, _stop_watching,
                           State({"server": state, "threadpool": threadpool}), on_first_use=config.api_on_first_use)
    # The workspace API (the SDK's and `aml`'s calls) answered without FastAPI; behind the MLflow front, so
    # the MLflow API's hot calls do not try its routes first.
    workspace_front = WorkspaceFront(deferred, deferred.state)
    # Its routes and models (10-25 ms of imports) load at the first quiet moment, so its first call need not.
    deferred.when_quiet(workspace_front.load)
    front: Any = workspace_front
    if has_mlflow:
        from azuremlcore.server import routes_mlflow  # light: MLflow itself loads only for rare MLflow requests

        front = routes_mlflow.Front(front)
    front = deferred.in_front_of(front)
    if has_mlflow and config.write_behind:
        from azuremlcore.server._ingest import JournalBusy, WriteBehind

        try:
            state.ingest = WriteBehind(state.store, config.data_dir, routes_mlflow.DECODERS)
        except JournalBusy as exc:
            _log.warning("%s This one stores metric calls before answering them.", exc)
        else:
            state.ingest.replay()  # what a killed server acknowledged is stored before anything is answered
            front = state.ingest.in_front_of(front)
    from azuremlcore.server.security.ratelimit import Limit, RateLimiter

    limiter = RateLimiter({name: Limit(burst, per_minute) for name, (burst, per_minute) in config.rate_limits.items()})
    guarded = GuardMiddleware(front, state.auth, config.max_json_bytes, limiter, open_access=config.open_access)
    guarded.state = state  # type: ignore[attr-defined]
    guarded.deferred = deferred  # type: ignore[attr-defined]
    guarded.workspace_front = workspace_front  # type: ignore[attr-defined]
    return guarded


def _build_fastapi(state: ServerState, threadpool: bool, has_mlflow: bool) -> Any:
    """The FastAPI app of every route but the MLflow tracking API's, warmed up (runs in a worker thread)."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from azuremlcore.server import openapi, routes_files, routes_jobs, routes_oidc, routes_workspace, web

    # /docs is the web view's (swagger-ui served from the package, no CDN); /redoc would load from a CDN.
    app = FastAPI(title="azuremlcore workspace server", version="1", docs_url=None, redoc_url=None,
                  description="Workspaces, experiments, runs, metrics, files, assets and secrets; MLflow REST API "
                              "under each workspace's path; the web view at /. Every route but /health, the sign-in "
                              "pages and static files needs a bearer token (or a browser session from /login).")
    app.state.server = state
    app.state.threadpool = threadpool

    @app.exception_handler(StoreError)
    @app.exception_handler(AuthError)
    @app.exception_handler(UserErrorException)
    @app.exception_handler(BodyTooLarge)
    async def _known_error(_: Request, exc: Exception) -> Response:
        return error_answer(exc) or internal_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        return error_response(400, "INVALID_PARAMETER_VALUE", validation_message(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        # Starlette's own answers (no such route, method not allowed) in the server's error shape too.
        code = "ENDPOINT_NOT_FOUND" if exc.status_code in (404, 405) else "BAD_REQUEST"
        response = error_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        _log.exception("Internal error on %s %s", request.method, request.url.path)
        return internal_error(exc)

    # The workspace API's tables (answered in front of this app, `_api_front`) as FastAPI's routers, in the
    # order they always had: this app answers what the front passes on (other methods) and documents them.
    for module in (routes_workspace, routes_files, routes_oidc, routes_jobs):
        add_routes(app, module.router if module is routes_oidc else module.router.fastapi_router())
    if has_mlflow:
        from azuremlcore.server import routes_mlflow, routes_registry

        routes_mlflow.install(app)
        routes_registry.install(app)  # the model registry routes go in front of MLflow's
    web.install(app)
    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign]
    asyncio.run(_warm_up(app))
    return app


async def _warm_up(app: Any) -> None:
    """Send the app one request no route matches: FastAPI builds its middleware stack and each included
    router's per-route state on first use, which a user's first request would otherwise wait for."""
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: dict[str, Any]) -> None:
        return None

    await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
               "path": "/.warm-up", "raw_path": b"/.warm-up", "root_path": "", "query_string": b"", "headers": [],
               "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 0), "state": {}}, receive, send)
