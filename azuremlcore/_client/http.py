"""One HTTP session to a server: bearer auth, retries of idempotent calls and 5xx, timeouts, error mapping."""
from __future__ import annotations

import json
import os
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from azuremlcore._store.errors import AlreadyExistsError, InvalidValueError, NotFoundError, StoreError

CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 300
# For single attempts (`retry=False`): a caller that retries on its own should not hang on a black hole.
ONCE_READ_TIMEOUT_S = 60


class ServerAuthError(StoreError):
    """The server refused the credentials (401) or the right (403)."""

    error_code = "PERMISSION_DENIED"
    http_status = 403


class ServerUnavailableError(StoreError):
    """The server could not be reached or failed (5xx after retries)."""

    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503


_BY_CODE: dict[str, type[StoreError]] = {
    "RESOURCE_DOES_NOT_EXIST": NotFoundError, "RESOURCE_ALREADY_EXISTS": AlreadyExistsError,
    "INVALID_PARAMETER_VALUE": InvalidValueError, "REQUEST_LIMIT_EXCEEDED": InvalidValueError,
}


def raise_for(resp: requests.Response) -> None:
    """Raise the store error the server's JSON error stands for."""
    if resp.status_code < 400:
        return
    try:
        body = resp.json()
        code, message = body.get("error_code", ""), body.get("message", resp.text)
    except ValueError:
        code, message = "", resp.text[:500] or resp.reason
    if resp.status_code in (401, 403):
        err = ServerAuthError(f"{resp.status_code}: {message}")
        err.http_status = resp.status_code
        err.error_code = code or err.error_code
        raise err
    cls = _BY_CODE.get(code)
    if cls is None:
        cls = NotFoundError if resp.status_code == 404 else (
            InvalidValueError if resp.status_code < 500 else ServerUnavailableError)
    err = cls(message)
    err.http_status = resp.status_code
    raise err


def _retries(methods: set[str]) -> Retry:
    """Retries of these methods on connection errors and 5xx, backing off from 0.2 s: five (about 6 s in all: a
    server's restart takes about 1 s), eight inside a submitted run (about 50 s: the job can do nothing else while
    its server is away; found by hand, a 6.6 s outage failed a job at `Run.get_context()`)."""
    attempts = 8 if os.environ.get("AZUREML_RUN_ID") else 5
    return Retry(total=attempts, connect=attempts, read=3, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504),
                 allowed_methods=frozenset(methods), raise_on_status=False, respect_retry_after_header=True)


class HttpClient:
    """A requests Session bound to a server with its credential."""

    def __init__(self, endpoint: str, auth: Any) -> None:
        """A session to `endpoint` whose requests carry `auth`'s bearer token (`get_authentication_header()`)."""
        self.endpoint = endpoint.rstrip("/")
        self.session = requests.Session()
        # Idempotent methods are retried on connection errors and 5xx; POST (appends, metric
        # batches) is retried by the caller where a repeat is harmless.
        idempotent = {"GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"}
        adapter = HTTPAdapter(max_retries=_retries(idempotent), pool_connections=4, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # Reads sent as POST (a query's body is too big for a URL): retried like GET, so a read in flight
        # when the server restarts is answered by the restarted server instead of failing.
        self.session_reads = requests.Session()
        reads = HTTPAdapter(max_retries=_retries(idempotent | {"POST"}), pool_connections=2, pool_maxsize=4)
        self.session_reads.mount("http://", reads)
        self.session_reads.mount("https://", reads)
        # Without retries, for callers that retry on their own schedule (the spool's sender): an
        # unreachable server is then known at once, not after the adapter's ~6 s of attempts.
        self.session_once = requests.Session()
        once = HTTPAdapter(max_retries=Retry(total=0, raise_on_status=False), pool_connections=2, pool_maxsize=4)
        self.session_once.mount("http://", once)
        self.session_once.mount("https://", once)
        # The credential is chosen above (the public layer's default: the run's token or the user's login).
        if hasattr(auth, "_bind"):
            auth._bind(self.endpoint)
        self.auth = auth

    def headers(self) -> dict[str, str]:
        """The authorization header for the next request."""
        return dict(self.auth.get_authentication_header())

    def request(self, method: str, path: str, *, json_body: Any = None, params: Any = None, data: Any = None,
                stream: bool = False, ok404: bool = False, headers: dict[str, str] | None = None,
                retry: bool = True, read: bool = False) -> requests.Response:
        """Send a request; store errors for error answers (None-like 404 handled by ok404).

        `retry=False`: one attempt, for callers that retry themselves. `read=True`: a POST that only reads,
        retried as GET is."""
        hdrs = self.headers()
        if headers:
            hdrs.update(headers)
        if json_body is not None:
            data = json.dumps(json_body, separators=(",", ":"))
            hdrs["Content-Type"] = "application/json"
        try:
            session = self.session_once if not retry else self.session_reads if read else self.session
            resp = session.request(method, self.endpoint + path, params=params, data=data, headers=hdrs, stream=stream,
                                   timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S if retry else ONCE_READ_TIMEOUT_S))
        except requests.ConnectionError as exc:
            raise ServerUnavailableError(f"Cannot reach the workspace server at {self.endpoint}: {exc}") from None
        except requests.Timeout as exc:
            raise ServerUnavailableError(f"The workspace server at {self.endpoint} timed out: {exc}") from None
        if ok404 and resp.status_code == 404:
            return resp
        raise_for(resp)
        return resp

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and decode its JSON answer (None for an empty one)."""
        resp = self.request(method, path, **kwargs)
        if resp.status_code == 204 or not resp.content:
            return None
        return json.loads(resp.content)
