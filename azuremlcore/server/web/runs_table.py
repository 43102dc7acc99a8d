"""The runs table of an experiment page: filter, sort and paginate on the server, with param and metric columns.

An experiment may hold thousands of runs; the page gets one slice of them. Filtering and sorting work
on the runs' records (one query for the experiment's runs with their attributes); the last logged value
of a metric is read (by index seeks, never a history) only for the runs on the page, or for every
filtered run when the table is sorted by it.
"""
from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from azuremlcore._store.metric_views import CHARTED_KINDS, last_values, metric_keys_of

if TYPE_CHECKING:
    from azuremlcore._store.records import RunRecord
    from azuremlcore._store.sql import SqlWorkspaceStore

MAX_PER_PAGE = 500
DEFAULT_COLUMNS = 4
_PLAIN_SORTS = ("number", "created", "duration", "status", "name")


@dataclass(frozen=True)
class TableQuery:
    """What the table shows: text filter, status, sort column and direction, page, chosen columns."""

    q: str = ""
    status: str = ""
    sort: str = "created"
    desc: bool = True
    page: int = 1
    per: int = 50
    params: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()

    @classmethod
    def parse(cls, args: Any) -> "TableQuery":
        """From a request's query parameters (bad values fall back to the defaults)."""
        def positive(name: str, default: int) -> int:
            try:
                return max(1, int(args.get(name, default)))
            except ValueError:
                return default

        def names(name: str) -> tuple[str, ...]:
            return tuple(n.strip() for n in args.get(name, "").split(",") if n.strip())[:20]

        sort = args.get("sort", "created")
        if sort not in _PLAIN_SORTS and not sort.startswith(("param:", "metric:")):
            sort = "created"
        return cls(q=args.get("q", "")[:200], status=args.get("status", "")[:32], sort=sort,
                   desc=args.get("dir", "desc") != "asc", page=positive("page", 1),
                   per=min(positive("per", 50), MAX_PER_PAGE), params=names("params"), metrics=names("metrics"))

    def url(self, **changes: Any) -> str:
        """The query string of this table with some settings changed (for links)."""
        t = replace(self, **changes)
        args = {"q": t.q, "status": t.status, "sort": t.sort, "dir": "desc" if t.desc else "asc", "page": t.page,
                "per": t.per, "params": ",".join(t.params), "metrics": ",".join(t.metrics)}
        return "?" + urlencode({k: v for k, v in args.items() if v not in ("", None)})

    def sort_url(self, column: str) -> str:
        """The link of a column header: sort by it, or flip the direction when it is the sort already."""
        return self.url(sort=column, desc=not self.desc if self.sort == column else column != "name", page=1)


@dataclass
class Row:
    """One run of the table with the values of the chosen metric columns."""

    run: "RunRecord"
    duration_s: float | None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class TablePage:
    """One page of the table."""

    rows: list[Row]
    total: int
    pages: int
    params: list[str]
    metrics: list[str]
    statuses: list[str]


def duration_s(run: "RunRecord") -> float | None:
    """Seconds from start to end (to now while it runs)."""
    if run.start_time is None:
        return None
    end = run.end_time if run.end_time is not None else int(time.time() * 1000)
    return max(0.0, (end - run.start_time) / 1000)


def _matches(run: "RunRecord", text: str) -> bool:
    hay = [run.id, run.display_name or "", run.submitted_by or "", run.status,
           *(f"{k}={v}" for k, v in run.tags.items()), *(f"{k}={v}" for k, v in run.params.items())]
    return any(text in h.lower() for h in hay)


def _param_key(v: str | None) -> tuple[int, float, str]:
    # Numbers sort as numbers, then text; runs without the param last.
    if v is None:
        return (2, 0.0, "")
    try:
        return (0, float(v), "")
    except ValueError:
        return (1, 0.0, v)


def build(store: "SqlWorkspaceStore", runs: list["RunRecord"], query: TableQuery) -> TablePage:
    """Filter, sort and cut runs into the page the query asks for."""
    statuses = sorted({r.status for r in runs})
    if query.status:
        runs = [r for r in runs if r.status == query.status]
    if query.q:
        text = query.q.lower()
        runs = [r for r in runs if _matches(r, text)]
    sort_values: dict[str, float] = {}
    if query.sort.startswith("metric:"):
        key = query.sort[7:]
        sort_values = {run_id: v for run_id, v in last_values(store, [r.id for r in runs], key).items()
                       if not math.isnan(v)}
        present = [r for r in runs if r.id in sort_values]
        present.sort(key=lambda r: sort_values[r.id], reverse=query.desc)
        runs = present + [r for r in runs if r.id not in sort_values]
    elif query.sort.startswith("param:"):
        key = query.sort[6:]
        present = sorted((r for r in runs if key in r.params), key=lambda r: _param_key(r.params[key]),
                         reverse=query.desc)
        runs = present + [r for r in runs if key not in r.params]
    elif query.sort != "created" or not query.desc:  # the store returns newest first already
        keyf = {"number": lambda r: r.number, "created": lambda r: r.created_time,
                "duration": lambda r: duration_s(r) or -1.0, "status": lambda r: r.status,
                "name": lambda r: (r.display_name or r.id).lower()}[query.sort]
        runs = sorted(runs, key=keyf, reverse=query.desc)
    total = len(runs)
    pages = max(1, -(-total // query.per))
    start = (min(query.page, pages) - 1) * query.per
    shown = runs[start:start + query.per]
    params = list(query.params) or [k for k, _ in Counter(k for r in shown for k in r.params).most_common(DEFAULT_COLUMNS)]
    summaries = metric_keys_of(store, [r.id for r in shown])
    by_run = {run_id: {k.key: k.last_value for k in keys if k.kind in CHARTED_KINDS and k.last_value is not None}
              for run_id, keys in summaries.items()}
    metrics = list(query.metrics) or [k for k, _ in Counter(k for values in by_run.values() for k in values)
                                      .most_common(DEFAULT_COLUMNS)]
    rows = [Row(r, duration_s(r), {k: v for k, v in by_run[r.id].items() if k in metrics}) for r in shown]
    return TablePage(rows, total, pages, sorted(params), sorted(metrics), statuses)
