"""Bearer tokens for workspace servers: one source per endpoint, a fresh token for every request.

A token source wraps what the user gave (a workspace `auth` object, a callable) and caches a token
only while it has well over half of its lifetime left, so a training run that logs for days never
sends an expired token: each request asks the source, and the source refreshes in time.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

RUN_TOKEN_ENV = "AZUREML_RUN_TOKEN"
RUN_TOKEN_FILE_ENV = "AZUREML_RUN_TOKEN_FILE"
MLFLOW_TOKEN_ENV = "MLFLOW_TRACKING_TOKEN"
_MAX_MARGIN_S = 300.0


def _unpack(value: Any) -> tuple[str, float | None]:
    """(token, expires_on epoch seconds or None) from a str, (token, exp) tuple, AccessToken-like or header dict."""
    if isinstance(value, str):
        return value, None
    if isinstance(value, dict):  # get_authentication_header() -> {"Authorization": "Bearer x"}
        header = value.get("Authorization") or value.get("authorization") or ""
        return header.split(" ", 1)[-1], None
    if isinstance(value, tuple) and len(value) == 2:
        return str(value[0]), float(value[1]) if value[1] is not None else None
    token = getattr(value, "token", None)
    if isinstance(token, str):
        exp = getattr(value, "expires_on", None)
        return token, float(exp) if exp is not None else None
    raise TypeError(f"A token provider returned {type(value).__name__}; return a str, (token, expires_on) or an "
                    "object with .token and .expires_on.")


class TokenSource:
    """Fresh bearer tokens from a provider; thread-safe, refreshes before expiry."""

    def __init__(self, provider: Callable[[], Any]) -> None:
        self._provider = provider
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def token(self) -> str:
        """A token that is not about to expire (fetched anew when the cached one is past half its life)."""
        with self._lock:
            now = time.time()
            if self._token is None or now >= self._refresh_at:
                token, expires_on = _unpack(self._provider())
                self._token = token
                if expires_on is None:
                    self._refresh_at = 0.0  # expiry unknown: ask the provider every time
                else:
                    self._refresh_at = expires_on - min(_MAX_MARGIN_S, max(0.0, expires_on - now) / 2)
            return self._token

    @classmethod
    def from_auth(cls, auth: Any) -> "TokenSource | None":
        """A source for a workspace auth object (callable, get_token() or get_authentication_header()); None if none."""
        if auth is None:
            return None
        if isinstance(auth, TokenSource):
            return auth
        if hasattr(auth, "get_token"):
            return cls(lambda: auth.get_token())
        if hasattr(auth, "get_authentication_header"):
            return cls(auth.get_authentication_header)
        if callable(auth):
            return cls(auth)
        raise TypeError(f"Cannot get tokens from auth object {type(auth).__name__}: it needs get_token(), "
                        "get_authentication_header() or to be callable.")


_sources: dict[str, TokenSource] = {}
_sources_lock = threading.Lock()


def _key(endpoint: str) -> str:
    return endpoint.rstrip("/").lower()


def register_token_provider(endpoint: str, provider: Any) -> None:
    """Use `provider` (callable, auth object or TokenSource) for every request this process sends to `endpoint`."""
    source = TokenSource.from_auth(provider)
    with _sources_lock:
        if source is None:
            _sources.pop(_key(endpoint), None)
        else:
            _sources[_key(endpoint)] = source


def token_for(endpoint: str) -> str | None:
    """A fresh token for a workspace server: its registered provider, else $AZUREML_RUN_TOKEN, else $MLFLOW_TRACKING_TOKEN."""
    with _sources_lock:
        source = _sources.get(_key(endpoint))
    if source is not None:
        return source.token()
    return _token_file() or os.environ.get(RUN_TOKEN_ENV) or os.environ.get(MLFLOW_TOKEN_ENV) or None


_file_cache: dict[str, tuple[tuple[int, int, int], str]] = {}


def _token_file() -> str | None:
    """The token in $AZUREML_RUN_TOKEN_FILE (a server-hosted run's runner rewrites it as it renews), re-read on change."""
    path = os.environ.get(RUN_TOKEN_FILE_ENV)
    if not path:
        return None
    try:
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        hit = _file_cache.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        with open(path) as f:
            token = f.read().strip()
    except OSError:
        hit = _file_cache.get(path)
        return hit[1] if hit else None
    if token:
        _file_cache[path] = (stamp, token)
    return token or None
