"""The FastAPI part of the server, built only when needed, while the server already answers.

Importing FastAPI and building the registry's, issuer's and web view's routes (their dependants and
pydantic models) was about half of `aml server`'s start-up (0.4-0.5 s of 0.9-1.0 s of CPU, cProfile
and `-X importtime`), and 10 MiB of an idle server. None of it is needed to answer `/health`, the
MLflow tracking API (`routes_mlflow.Front`) or the workspace API (`_api_front.WorkspaceFront`), so the
server starts listening first and builds the rest at the first request that needs it (that request
waits for it, about 0.3 s once per process; nothing is skipped: the same app, routes and checks answer
it), or, with `on_first_use=False`, in a thread once the server has had no request for 0.2 s.
`when_quiet` callbacks run on the event loop at that first quiet moment either way (the workspace
API's route modules load then, so its first call need not).

Why wait for a quiet moment: the build is a thread of imports holding the GIL in 5 ms slices, and
a request answered meanwhile waits for the GIL at each of its I/O and SQLite calls. Started with
the lifespan, the first MLflow calls after `/health` took 63-140 ms against 15-37 ms before
(measured, load 6); started when quiet, a server restarted under MLflow traffic builds nothing
until the traffic pauses.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from typing import Any, Awaitable, Callable

from azuremlcore.server.middleware import send_error

_log = logging.getLogger("azuremlcore.server")
_HEALTH = b'{"status":"ok"}'
QUIET_S = 0.2
# uvicorn binds its socket after the lifespan starts (under load, a few hundred ms later): before any
# request has come, "quiet" means nothing until then.
FIRST_REQUEST_WAIT_S = 1.0


class DeferredApp:
    """ASGI app: answers lifespan events and `GET /health` itself, everything else with the app `build` returns.

    `build()` runs once, in a thread started by `start()`: by the first request that needs the app,
    or (not with `on_first_use`) once the lifespan has started and no request has come through
    `in_front_of(...)` for QUIET_S since the last one (or for FIRST_REQUEST_WAIT_S when none has
    come yet) and the `when_quiet` callbacks have run, whichever comes first.
    `on_startup`/`on_shutdown` run on the event loop at the lifespan's start and end. `state` is
    what handlers answered in front of this app (`routes_mlflow.Front`) read as `request.app.state`.
    """

    def __init__(self, build: Callable[[], Any], on_startup: Callable[[], Awaitable[None]],
                 on_shutdown: Callable[[], Awaitable[None]], state: Any, on_first_use: bool = False) -> None:
        self._build, self._on_startup, self._on_shutdown = build, on_startup, on_shutdown
        self.state, self._on_first_use = state, on_first_use
        self._last_request, self._in_flight, self._seen_request = time.monotonic(), 0, False
        self._future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._started = False
        self._lock = threading.Lock()
        self._app: Any = None
        self._on_started: list[Callable[[], None]] = []
        self._on_building: list[Callable[[], None]] = []
        self._on_quiet: list[Callable[[], None]] = []

    def start(self) -> None:
        """Start building the app in a thread (once)."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run_build, name="aml-server-build", daemon=True).start()

    def _run_build(self) -> None:
        try:
            for callback in self._on_building:
                callback()
            app = self._build()
        except BaseException as exc:  # noqa: BLE001 - every waiting request answers with it
            _log.exception("Building the server's API failed")
            self._future.set_exception(exc)
            return
        self._app = app
        self._future.set_result(app)

    def in_front_of(self, app: Any) -> Callable[[dict, Any, Any], Awaitable[None]]:
        """`app` (the server's front) with each request noted, so that the build waits for a quiet moment."""
        async def noted(scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            self._in_flight += 1
            self._seen_request = True
            try:
                await app(scope, receive, send)
            finally:
                self._in_flight -= 1
                self._last_request = time.monotonic()

        return noted

    def _start_when_quiet(self) -> None:
        if self._started:
            return
        quiet_for = time.monotonic() - self._last_request
        if not self._seen_request and quiet_for < FIRST_REQUEST_WAIT_S:
            asyncio.get_running_loop().call_later(QUIET_S, self._start_when_quiet)
        elif self._in_flight == 0 and quiet_for >= QUIET_S:
            if self._on_quiet:
                callbacks, self._on_quiet = self._on_quiet, []
                for callback in callbacks:
                    callback()
                if not self._on_first_use:  # the build waits for the next quiet moment after them
                    self._last_request = time.monotonic()
                    asyncio.get_running_loop().call_later(QUIET_S, self._start_when_quiet)
            elif not self._on_first_use:
                self.start()
        else:
            asyncio.get_running_loop().call_later(QUIET_S - quiet_for if self._in_flight == 0 else QUIET_S,
                                                  self._start_when_quiet)

    def when_quiet(self, callback: Callable[[], None]) -> None:
        """Call callback on the event loop at the first quiet moment after start (before the build, if any)."""
        self._on_quiet.append(callback)

    def when_started(self, callback: Callable[[], None]) -> None:
        """Call callback on the event loop once the lifespan has started (the server is about to listen)."""
        self._on_started.append(callback)

    def when_building(self, callback: Callable[[], None]) -> None:
        """Call callback in the building thread before the build begins."""
        self._on_building.append(callback)

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
                for callback in self._on_started:
                    callback()
                self._last_request = time.monotonic()
                asyncio.get_running_loop().call_later(QUIET_S, self._start_when_quiet)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
