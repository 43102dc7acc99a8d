"""What the run widget shows, read from a run: status, times, metrics, child runs and the tail of its logs.

`collect` returns plain JSON-able data (what `RunDetails.get_widget_data()` returns), so the same
snapshot feeds the live widget, the HTML fallback and the plain-text summary.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from azuremlcore._store.records import TERMINAL_STATUSES
from azuremlcore._timeutil import iso
from azuremlcore._tracking.files_mixin import BUILD_LOG, STREAMED_LOG

if TYPE_CHECKING:
    from azuremlcore.run import Run

# The log tail keeps this much text: enough to see what a job does now, small enough to resend each refresh.
LOG_TAIL_CHARS = 20_000
# Child runs listed (newest first): a sweep with thousands of children would make a table no one reads.
MAX_CHILDREN = 100


class LogTail:
    """Follows a run's logs from where the last read stopped: the environment build log, then the script's output."""

    def __init__(self, names: tuple[str, ...] = (BUILD_LOG, STREAMED_LOG), limit: int = LOG_TAIL_CHARS) -> None:
        self._offsets = {name: 0 for name in names}
        self._texts = {name: "" for name in names}
        self._limit = limit

    def read(self, run: "Run") -> str:
        """Everything new since the last read appended; the last `limit` characters of each log, joined."""
        for name, offset in self._offsets.items():
            chunk = run._artifacts.read_from(run._container, name, offset)
            if chunk:
                self._offsets[name] = offset + len(chunk)
                self._texts[name] = (self._texts[name] + chunk.decode("utf-8", "replace"))[-self._limit:]
        parts = [f"--- {name} ---\n{text}" for name, text in self._texts.items() if text]
        return "\n".join(parts)[-self._limit:]


def duration_seconds(start_ms: int | None, end_ms: int | None, terminal: bool) -> float | None:
    """Seconds from start to end (to now while the run runs); None before it started."""
    if start_ms is None:
        return None
    end = end_ms if (terminal and end_ms is not None) else int(time.time() * 1000)
    return max(0.0, (end - start_ms) / 1000)


def format_duration(seconds: float | None) -> str:
    """'1:02:03', '0:00:04' or '-' (not started)."""
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def collect(run: "Run", logs: LogTail | None = None, widget_settings: dict | None = None) -> dict[str, Any]:
    """A snapshot of the run for the widget (keys as the real SDK's widget data: status, run_id, run_metrics, ...)."""
    rec = run._refresh()
    terminal = rec.status in TERMINAL_STATUSES
    all_children = list(run.get_children())
    children = []
    for child in all_children[:MAX_CHILDREN]:
        c = child._record
        children.append({"run_id": c.id, "name": c.display_name or c.id, "status": c.status,
                         "url": child.get_portal_url(),
                         "duration": format_duration(duration_seconds(c.start_time, c.end_time,
                                                                      c.status in TERMINAL_STATUSES))})
    # One read for the run and the children listed (not every descendant of a sweep of thousands).
    all_metrics = run._metrics_of([rec.id] + [c["run_id"] for c in children], None, False)
    for child in children:
        child["metrics"] = {k: _last(v) for k, v in all_metrics.get(child["run_id"], {}).items()}
    error = rec.details.get("error")
    return {
        "run_id": rec.id,
        "experiment": run.experiment.name,
        "name": rec.display_name or rec.id,
        "type": rec.type,
        "status": rec.status,
        "is_terminal": terminal,
        "start_time": rec.start_time,
        "start_time_utc": iso(rec.start_time) if rec.start_time is not None else None,
        "end_time": rec.end_time if terminal else None,
        "duration": format_duration(duration_seconds(rec.start_time, rec.end_time, terminal)),
        "workbench_run_details_uri": run.get_portal_url(),
        "run_properties": {"target": rec.target, "submitted_by": rec.submitted_by,
                           "tags": dict(rec.tags), "properties": dict(rec.properties)},
        "error": error.get("error", error) if isinstance(error, dict) else error,
        "run_metrics": [_metric(name, value, rec.id) for name, value in sorted(all_metrics.get(rec.id, {}).items())],
        "child_runs": children,
        "child_run_count": len(all_children),
        "run_logs": logs.read(run) if logs is not None else LogTail().read(run),
        "widget_settings": dict(widget_settings or {}),
        "loading": False,
    }




def _metric(name: str, value: Any, run_id: str) -> dict[str, Any]:
    """A metric as chart data: 'series' holds the logged values of a scalar metric; tables and rows stay as logged."""
    if isinstance(value, list):
        return {"name": name, "run_id": run_id, "kind": "series", "categories": list(range(len(value))),
                "series": [{"data": value}], "last": _last(value)}
    if isinstance(value, dict):
        return {"name": name, "run_id": run_id, "kind": "table", "value": value, "last": None}
    return {"name": name, "run_id": run_id, "kind": "scalar", "categories": [0], "series": [{"data": [value]}],
            "last": value}


def _last(value: Any) -> Any:
    if isinstance(value, list):
        return value[-1] if value else None
    if isinstance(value, dict):
        return None
    return value
