"""Bearer tokens for workspace servers: one source per endpoint, a fresh token for every request.

A token source wraps what the user gave (a workspace `auth` object, a callable) and caches a token
only while it has well over half of its lifetime left, so a training run that logs for days never
sends an expired token: each request asks the source, and the source refreshes in time.

Where no source is registered for a server (a process that only called `mlflow.set_tracking_uri`),
the token is the submitted run's, then $MLFLOW_TRACKING_TOKEN, then the SDK's own default
credential for that server (`aml login`, $AZUREMLCORE_TOKEN, a cached device-code sign-in), asked
without prompting: MLflow never starts an interactive sign-in.
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

    def token(self) -> str | None:
        """A token that is not about to expire (fetched anew when the cached one is past half its life).

        None when the provider has none now (it returned None): nothing is cached then.
        """
        with self._lock:
            now = time.time()
            if self._token is None or now >= self._refresh_at:
                value = self._provider()
                if value is None:
                    return None
                token, expires_on = _unpack(value)
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


def silently(auth: Any) -> Any:
    """A provider asking an SDK credential for a token without prompting (None when it has none now).

    For credentials MLflow did not get explicitly: a device-code prompt from inside `mlflow.log_metric`
    would hang a script, so only credentials with a silent path (`_silent()`) or none at all are asked.
    """
    quiet = getattr(auth, "_silent", None)
    return quiet if callable(quiet) else auth


def token_for(endpoint: str) -> str | None:
    """A fresh token for a workspace server, or None.

    In order: the provider registered for it (a workspace's `auth`), the submitted run's token
    ($AZUREML_RUN_TOKEN_FILE, $AZUREML_RUN_TOKEN), $MLFLOW_TRACKING_TOKEN, then the SDK's default
    credential for the server (`aml login`, $AZUREMLCORE_TOKEN, a cached sign-in), never prompting.
    """
    with _sources_lock:
        source = _sources.get(_key(endpoint))
    token = source.token() if source is not None else None
    return (token or _token_file() or os.environ.get(RUN_TOKEN_ENV) or os.environ.get(MLFLOW_TOKEN_ENV)
            or _sdk_login(endpoint))


def _sdk_login(endpoint: str) -> str | None:
    """The token of the SDK's default credential for the server, found without asking anyone."""
    try:
        from azuremlcore.authentication import default_credential

        found = default_credential(endpoint)._silent()
    except Exception:  # noqa: BLE001 - an unreadable login must not break MLflow: the server answers 401
        return None
    return found.token if found is not None else None


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
