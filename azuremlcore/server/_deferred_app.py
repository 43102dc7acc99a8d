"""The FastAPI part of the server, built in a worker thread while the server already answers.

Importing FastAPI and building the workspace API's, registry's, issuer's and web view's routes
(their dependants and pydantic models) was about half of `aml server`'s start-up (0.4-0.5 s of
0.9-1.0 s of CPU, cProfile and `-X importtime`). None of it is needed to answer `/health` or the
MLflow tracking API (`routes_mlflow.Front` answers those without FastAPI), so the server starts
listening first and builds the rest in a thread as soon as uvicorn's lifespan starts. A request for
the FastAPI part that comes before the build ends waits for it (a few hundred milliseconds at
most, once per process); nothing is skipped: the same app, routes and checks answer it.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import Any, Awaitable, Callable

from azuremlcore.server.middleware import send_error

_log = logging.getLogger("azuremlcore.server")
_HEALTH = b'{"status":"ok"}'


class DeferredApp:
    """ASGI app: answers lifespan events and `GET /health` itself, everything else with the app `build` returns.

    `build()` runs once, in a thread started by `start()` (called at lifespan start-up, or by the
    first request that needs the app: with `on_first_use`, or when no lifespan runs, as under a bare
    test client).
    `on_startup`/`on_shutdown` run on the event loop at the lifespan's start and end. `state` is
    what handlers answered in front of this app (`routes_mlflow.Front`) read as `request.app.state`.
    """

    def __init__(self, build: Callable[[], Any], on_startup: Callable[[], Awaitable[None]],
                 on_shutdown: Callable[[], Awaitable[None]], state: Any, on_first_use: bool = False) -> None:
        self._build, self._on_startup, self._on_shutdown = build, on_startup, on_shutdown
        self.state, self._on_first_use = state, on_first_use
        self._future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._started = False
        self._lock = threading.Lock()
        self._app: Any = None

    def start(self) -> None:
        """Start building the app in a thread (once)."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run_build, name="aml-server-build", daemon=True).start()

    def _run_build(self) -> None:
        try:
            app = self._build()
        except BaseException as exc:  # noqa: BLE001 - every waiting request answers with it
            _log.exception("Building the server's API failed")
            self._future.set_exception(exc)
            return
        self._app = app
        self._future.set_result(app)

    def when_built(self, callback: Callable[[], None]) -> None:
        """Call callback once the build has ended (in the building thread, or now if it already has)."""
        self._future.add_done_callback(lambda _: callback())

    def built(self, timeout: float | None = None) -> Any:
        """The built app, waiting for the build when it is under way (starting it if need be)."""
        self.start()
        return self._future.result(timeout)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind == "http" and scope["path"] == "/health" and scope["method"] in ("GET", "HEAD"):
            # The liveness probe answers as soon as the server listens: the route it replaces says only this.
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"15")]})
            await send({"type": "http.response.body", "body": _HEALTH if scope["method"] == "GET" else b""})
            return
        app = self._app
        if app is None:
            self.start()
            try:
                app = await asyncio.wrap_future(self._future)
            except Exception:  # noqa: BLE001 - logged by the build; the caller learns where to look
                if kind == "http":
                    await send_error(send, 500, "INTERNAL_ERROR", "The server could not build its API; see the "
                                                                  "server log.")
                return
        await app(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._on_startup()
                if not self._on_first_use:
                    self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
