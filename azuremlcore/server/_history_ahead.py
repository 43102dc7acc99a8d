"""Read-ahead of metric-history pages: the next page is built while the client decodes this one.

MLflow's client (and any pager) reads a history page by page: it asks for the next page only after
decoding the previous one, so the server's work and the client's took turns. Measured on a
100k-point history (four pages of 25,000): the server's CPU 0.09-0.16 s (sqlite3 making the rows'
objects, then the answer's JSON), the client's JSON decoding 0.06-0.14 s, the stock client's
protobuf parsing 0.3 s a page. When a page with a next page follows is answered, the next page
is built on one worker thread while the answer travels and the client decodes it; the request for
it takes the built answer (waiting for the rest if it is still being built).

A built page is used only when it is still the answer: the key's mark (`metric_series_mark`: the id
of its newest point, taken before the page was read) must be the same when the page is asked for,
so a point stored in between (the write-behind stores pending points before any read) or a
deleted run makes the page be read again. The caller checks the run's workspace, as for any page.
Bounded: at most MAX_PENDING pages wait (the oldest dropped), each for TTL_S seconds.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from azuremlcore.server._mlflow_common import metric_history_page

MAX_PENDING = 4
TTL_S = 10.0
_log = logging.getLogger("azuremlcore.server")
# (store's id, workspace id, run id, metric key, page size, page token) -> (store, started, future of
# (mark, answer, next token))
_Key = tuple[int, str, str, str, "int | None", str]
_pending: dict[_Key, tuple[Any, float, "Future[tuple[int | None, bytes, str | None]]"]] = {}
_lock = threading.Lock()
_workers: list[ThreadPoolExecutor] = []


def _worker() -> ThreadPoolExecutor:
    with _lock:
        if not _workers:  # made on the first history with more than one page, not at start-up
            _workers.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="history-read-ahead"))
        return _workers[0]


def _build(store: Any, run_id: str, key: str, max_results: int | None, token: str
           ) -> tuple[int | None, bytes, str | None]:
    mark = store.metric_series_mark(run_id, key)  # before the page: a point stored meanwhile changes it
    return (mark, *metric_history_page(store, run_id, key, max_results, token))


def history_answer(store: Any, ws_id: str, run_id: str, key: str, max_results: int | None,
                   page_token: str | None) -> bytes:
    """GetMetricHistory's JSON answer (as `metric_history`, in UTF-8 bytes), the next page read ahead when one
    follows.

    The caller has checked the page token's form and that the run belongs to the workspace.
    """
    taken = _take(store, ws_id, run_id, key, max_results, page_token) if page_token else None
    text, token = taken if taken is not None else metric_history_page(store, run_id, key, max_results, page_token)
    if token is not None:
        _start(store, ws_id, run_id, key, max_results, token)
    return text


def _take(store: Any, ws_id: str, run_id: str, key: str, max_results: int | None, token: str
          ) -> tuple[bytes, str | None] | None:
    with _lock:
        entry = _pending.pop((id(store), ws_id, run_id, key, max_results, token), None)
    if entry is None or entry[0] is not store or time.monotonic() - entry[1] > TTL_S:
        return None
    try:
        mark, text, next_token = entry[2].result()
    except Exception:  # noqa: BLE001 - read again on the request's own path, which reports the error
        _log.debug("history read-ahead failed", exc_info=True)
        return None
    if mark is None or mark != store.metric_series_mark(run_id, key):
        return None
    return text, next_token


def _start(store: Any, ws_id: str, run_id: str, key: str, max_results: int | None, token: str) -> None:
    k = (id(store), ws_id, run_id, key, max_results, token)
    now = time.monotonic()
    with _lock:
        for old in [o for o, e in _pending.items() if now - e[1] > TTL_S]:
            _pending.pop(old)[2].cancel()
        if k in _pending:
            return
        while len(_pending) >= MAX_PENDING:
            _pending.pop(next(iter(_pending)))[2].cancel()
    future = _worker().submit(_build, store, run_id, key, max_results, token)
    with _lock:
        _pending[k] = (store, now, future)


def forget(store: Any) -> None:
    """Drop the pages read ahead from a store, waiting for one being built (call before closing the store)."""
    with _lock:
        gone = [_pending.pop(k) for k in [k for k, e in _pending.items() if e[0] is store]]
    for _, _, future in gone:
        if not future.cancel():
            try:
                future.result(timeout=30)
            except Exception:  # noqa: BLE001 - nobody waits for this page any more
                pass
