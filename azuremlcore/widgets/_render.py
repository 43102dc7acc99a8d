"""HTML and plain text of the run widget's data (from `_run_data.collect`); every value is escaped.

The HTML is self-contained (inline styles, inline SVG charts, no script, no CDN): the live widget
shows it in ipywidgets ``HTML`` parts, and the fallback displays the same markup as a static output.
"""
from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from typing import Any, Iterable

from azuremlcore.widgets._svg import line_chart

_STATUS_COLOURS = {"Completed": "#107c10", "Failed": "#a4262c", "Canceled": "#8a8886", "Running": "#0078d4"}
# Charts drawn (in name order); further metrics get a row with their last value, to keep each refresh small.
MAX_CHARTS = 48
_TABLE = 'style="border-collapse:collapse;font-size:12px;margin:2px 0"'
_CELL = 'style="border:1px solid #ddd;padding:2px 6px;text-align:left"'


def esc(value: Any) -> str:
    """Text of any value, HTML-escaped (quotes too, so it is safe inside attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def _link(url: str, text: str) -> str:
    # Styled inline: widget front ends (JupyterLab's HTML widget) draw a bare <a> as plain text.
    return (f'<a href="{esc(url)}" target="_blank" rel="noopener" style="color:#0078d4;text-decoration:underline">'
            f'{esc(text)}</a>')


def _boxes(items: Iterable[str]) -> str:
    """Small bordered boxes in a row that wraps to the output's width (a table row would overflow it)."""
    box = '<span style="border:1px solid #ddd;padding:2px 6px;white-space:nowrap">'
    inner = "".join(f"{box}{item}</span>" for item in items)
    return f'<div style="display:flex;flex-wrap:wrap;gap:3px;margin:3px 0;font-size:12px">{inner}</div>'


def header_html(data: dict[str, Any], note: str = "") -> str:
    """Status badge, run id, experiment, duration and the link to the run's page."""
    colour = _STATUS_COLOURS.get(data["status"], "#ca5010")
    badge = (f'<span class="aml-status" style="background:{colour};color:white;padding:1px 8px;'
             f'border-radius:8px">{esc(data["status"])}</span>')
    props = data["run_properties"]
    rows = [("Run", data["run_id"]), ("Experiment", data["experiment"]), ("Type", data["type"]),
            ("Started", _utc(data.get("start_time"))), ("Duration", data["duration"]), ("Target", props.get("target"))]
    out = f'<div class="aml-header">{badge}' + _boxes((f"<b>{esc(k)}</b> {esc(v)}" for k, v in rows if v))
    for title, pairs in (("Tags", props.get("tags")), ("Properties", props.get("properties"))):
        if pairs:
            out += _boxes([f"<b>{title}</b>"] + [f"{esc(k)}: {esc(_short(v))}" for k, v in sorted(pairs.items())[:20]])
    out += _link(data["workbench_run_details_uri"], "Run details page")
    if data.get("error"):
        out += f'<pre style="color:#a4262c;white-space:pre-wrap">{esc(json.dumps(data["error"], default=str))}</pre>'
    if note:
        out += f'<div style="color:#a4262c">{esc(note)}</div>'
    return out + "</div>"


def metrics_html(data: dict[str, Any]) -> str:
    """A chart per metric logged more than once; a table of single values, rows and tables."""
    charts, singles = [], []
    for m in data["run_metrics"]:
        if m["kind"] == "series" and len(charts) >= MAX_CHARTS:
            count = len(m["series"][0]["data"])
            singles.append(f"<tr><td {_CELL}>{esc(m['name'])}</td><td {_CELL}>{esc(_short(m['last']))} "
                           f"(last of {count} values)</td></tr>")
        elif m["kind"] == "series":
            values = m["series"][0]["data"]
            charts.append(f'<div class="aml-metric" style="display:inline-block;margin:4px">'
                          f'<div style="font-size:12px"><b>{esc(m["name"])}</b> last: {esc(_short(m["last"]))} '
                          f'({len(values)} values)</div>{line_chart(values, m["name"])}</div>')
        else:
            value = m["value"] if m["kind"] == "table" else m["last"]
            singles.append(f"<tr><td {_CELL}>{esc(m['name'])}</td><td {_CELL}>{esc(_short(value))}</td></tr>")
    if not charts and not singles:
        return '<div class="aml-metrics"><i>No metrics logged yet.</i></div>'
    table = (f"<table {_TABLE}><tr><th {_CELL}>Metric</th><th {_CELL}>Value</th></tr>{''.join(singles)}</table>"
             if singles else "")
    return f'<div class="aml-metrics">{"".join(charts)}{table}</div>'


def children_html(data: dict[str, Any]) -> str:
    """A table of child runs: id, status, duration and each metric's last value."""
    children = data["child_runs"]
    if not children:
        return '<div class="aml-children"><i>No child runs.</i></div>'
    names = sorted({k for c in children for k in c["metrics"]})[:12]
    head = "".join(f"<th {_CELL}>{esc(h)}</th>" for h in ["Run", "Status", "Duration", *names])
    rows = []
    for c in children:
        cells = [c["status"], c["duration"], *(_short(c["metrics"].get(n)) for n in names)]
        rows.append(f"<tr><td {_CELL}>{_link(c['url'], c['name'])}</td>"
                    + "".join(f"<td {_CELL}>{esc(v)}</td>" for v in cells) + "</tr>")
    total = data.get("child_run_count", len(children))
    more = f"<div><i>The newest {len(children)} of {total} child runs.</i></div>" if total > len(children) else ""
    return f'<div class="aml-children"><table {_TABLE}><tr>{head}</tr>{"".join(rows)}</table>{more}</div>'


def logs_html(data: dict[str, Any]) -> str:
    """The tail of the run's logs in a scrolling box."""
    text = data["run_logs"] or "No logs yet."
    return (f'<pre class="aml-logs" style="max-height:240px;overflow:auto;font-size:11px;background:#f4f4f4;'
            f'padding:4px;white-space:pre-wrap">{esc(text)}</pre>')


def page_html(data: dict[str, Any], note: str = "") -> str:
    """The whole widget as one static HTML block (the fallback, and the saved copy beside the live widget)."""
    return join_parts(header_html(data, note), metrics_html(data), children_html(data), logs_html(data))


def join_parts(header: str, metrics: str, children: str, logs: str) -> str:
    """The four parts, already drawn, as one block with their headings."""
    return (f'<div class="aml-run-details">{header}<h4>Metrics</h4>{metrics}'
            f'<h4>Child runs</h4>{children}<h4>Logs</h4>{logs}</div>')


def page_text(data: dict[str, Any]) -> str:
    """The widget's data as plain text, for a terminal (outside IPython)."""
    lines = [f"Run {data['run_id']} ({data['experiment']}): {data['status']}, duration {data['duration']}",
             f"Details page: {data['workbench_run_details_uri']}"]
    for m in data["run_metrics"]:
        value = m["value"] if m["kind"] == "table" else m["last"]
        count = f" ({len(m['series'][0]['data'])} values)" if m["kind"] == "series" else ""
        lines.append(f"  {m['name']}: {_short(value)}{count}")
    for c in data["child_runs"]:
        lines.append(f"  child {c['name']}: {c['status']}, {c['duration']}")
    return "\n".join(lines)


def _utc(ms: int | None) -> str | None:
    """Milliseconds since the epoch as 'YYYY-MM-DD HH:MM:SS UTC'."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(value: Any, limit: int = 80) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else json.dumps(value, default=str) if isinstance(
        value, (dict, list)) else "" if value is None else str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
