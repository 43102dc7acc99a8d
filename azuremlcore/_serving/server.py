"""The scoring server process of a local web service (run as `python -m azuremlcore._serving.server`).

Loads the user's entry script, calls its init() once, then answers:
GET / (health), POST /score (body passed as text to run(raw_data); the result is sent back as JSON).
Uses only the standard library so it starts in any environment that has the user's packages.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

_lock = threading.Lock()  # user run() functions are rarely thread-safe: one request at a time
_module: ModuleType | None = None


def _log(msg: str) -> None:
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class Handler(BaseHTTPRequestHandler):
    """Health and scoring routes."""

    server_version = "azuremlcore-scoring/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        _log("%s - %s" % (self.address_string(), format % args))

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path.split("?")[0].rstrip("/")
        if path in ("", "/score"):
            self._send(200, b"Healthy", "text/plain")
        elif path == "/swagger.json":
            self._send(200, {"swagger": "2.0", "info": {"title": "azuremlcore scoring service", "version": "1.0"},
                             "paths": {"/score": {"post": {"consumes": ["application/json"]}}}})
        else:
            self._send(404, {"error": f"No route {self.path}: POST /score, GET / for health."})

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        if self.path.split("?")[0].rstrip("/") != "/score":
            self._send(404, {"error": f"No route {self.path}: POST /score."})
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        try:
            with _lock:
                result = _module.run(raw)  # type: ignore[union-attr]
            self._send(200, json.dumps(result, default=_jsonable))
        except Exception as exc:  # noqa: BLE001 - the user's error goes back to the caller and to the log
            tb = traceback.format_exc()
            _log(f"run() failed:\n{tb}")
            self._send(502, {"error": f"{type(exc).__name__}: {exc}", "traceback": tb})


def load_entry(path: str) -> ModuleType:
    """Import the entry script as module 'main' (as Azure ML's server names it)."""
    spec = importlib.util.spec_from_file_location("main", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"Cannot load entry script {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["main"] = module
    spec.loader.exec_module(module)
    if not hasattr(module, "run"):
        raise AttributeError(f"Entry script {path} has no run(raw_data) function.")
    return module


def main(argv: list[str] | None = None) -> int:
    """Bind the port first (fail fast when taken), then init(), then serve until terminated."""
    global _module
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--entry", required=True)
    p.add_argument("--source-dir", required=True)
    args = p.parse_args(argv)
    os.chdir(args.source_dir)
    sys.path.insert(0, args.source_dir)
    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    _log(f"Scoring server bound to http://{args.host}:{args.port}; AZUREML_MODEL_DIR={os.environ.get('AZUREML_MODEL_DIR')}")
    _module = load_entry(args.entry)
    if hasattr(_module, "init"):
        _log("Calling init()")
        _module.init()
    _log("Ready: POST /score")
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
