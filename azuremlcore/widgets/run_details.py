"""``RunDetails``: a notebook widget that shows a run (status, metric charts, child runs, log tail), live while it runs.

Mirrors ``azureml.widgets.RunDetails``. With ipywidgets (the ``notebook`` extra) the widget refreshes
itself from a background thread until the run ends; without it a static HTML snapshot is shown,
and outside IPython a plain-text summary is printed.
"""
from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from azuremlcore._store.records import TERMINAL_STATUSES
from azuremlcore.exceptions import UserErrorException
from azuremlcore.widgets import _render
from azuremlcore.widgets._run_data import LogTail, collect

if TYPE_CHECKING:
    from azuremlcore.run import Run

__all__ = ["RunDetails"]

# Refresh period while the run runs: quick while something changes, slower (up to MAX) while nothing does,
# so a widget left open on a long quiet run costs a query every few seconds, not a busy loop.
MIN_INTERVAL_S = 1.5
MAX_INTERVAL_S = 15.0
_BACKOFF = 1.5
# A refresh re-reads the run's metrics: on a run with millions of points that takes seconds, so the
# pause after a refresh is at least this many times what it took (the widget then uses < 1/6 of a core).
_COST_FACTOR = 5
_CATCH_UP_WAIT_S = 30.0
_INSTALL_HINT = "pip install 'amlcore-open[notebook]'"


class RunDetails:
    """A Jupyter widget showing a run's progress: status, duration, metric charts, child runs and its logs.

    `RunDetails(run).show()` displays it; while the run runs, a background thread refreshes it
    (every 1.5 s while values change, backing off to 15 s while nothing does, and pausing at least
    five times as long as a refresh took) and stops when the run ends. The refresh does not need
    the kernel to be idle: a cell that blocks, such as `run.wait_for_completion()`, runs while the
    widget above it keeps updating.
    Without ipywidgets a static HTML snapshot is shown (call `show()` again to refresh it).
    """

    def __init__(self, run_instance: "Run") -> None:
        """Make a widget for `run_instance`: a Run from `experiment.submit`, `start_logging`, `Run(...)`, `get_runs`."""
        if not all(hasattr(run_instance, a) for a in ("get_metrics", "get_children", "_refresh", "get_portal_url")):
            raise UserErrorException(f"RunDetails needs a Run (from experiment.submit(), experiment.start_logging() "
                                     f"or Run(experiment, run_id)), not {type(run_instance).__name__}.")
        self.run_instance = run_instance
        self._logs = LogTail()
        self._lock = threading.Lock()  # the refresher and get_widget_data share the log tail
        self._refresher: _Refresher | None = None

    def get_widget_data(self, widget_settings: dict | None = None) -> dict[str, Any]:
        """What the widget shows, as a dict.

        Keys: status, duration, run_metrics, child_runs, run_logs, workbench_run_details_uri, run_properties, ...
        """
        with self._lock:
            return collect(self.run_instance, self._logs, widget_settings)

    def show(self, render_lib: Any = None, widget_settings: dict | None = None) -> None:
        """Display the widget in the notebook and keep it refreshed until the run ends.

        `render_lib` is accepted for compatibility with Azure ML and not used; `widget_settings` is
        passed through to the widget's data. Showing again stops this object's previous refresher.
        """
        data = self.get_widget_data(widget_settings)
        display = _ipython_display()
        if display is None:
            print(_render.page_text(data))
            return
        try:
            import ipywidgets  # noqa: F401 - only to know whether the live widget can be built
        except ImportError:
            from IPython.display import HTML

            note = "" if data["is_terminal"] else f"A snapshot: for a live widget, {_INSTALL_HINT}."
            display(HTML(_render.page_html(data, note)))
            return
        self.stop()
        view = _View(data)
        handle = display(view, display_id=True)
        if not data["is_terminal"]:
            self._refresher = _Refresher(self, view, handle, widget_settings)
            self._refresher.start()

    def stop(self) -> None:
        """Stop refreshing the widget (it keeps showing what it last showed)."""
        refresher, self._refresher = self._refresher, None
        if refresher is not None:
            refresher.stop()
            if refresher is not threading.current_thread():
                refresher.join(timeout=MAX_INTERVAL_S)

    def __repr__(self) -> str:
        return f"RunDetails(run_instance={self.run_instance!r})"


def _ipython_display() -> Any:
    """IPython's `display` when running in a Jupyter kernel, else None (a script, or IPython in a terminal)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    return display if getattr(get_ipython(), "kernel", None) is not None else None


class _View:
    """The ipywidgets parts of the widget, displayed with a static HTML copy beside the live view.

    Front ends that render widgets (Jupyter, VS Code) show the live view; those that cannot (GitHub,
    nbviewer, a notebook saved without widget state) show the HTML copy.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        import ipywidgets as w

        self.header = w.HTML()
        self.metrics = w.HTML()
        self.children = w.HTML()
        self.logs = w.HTML()
        self.box = w.VBox([self.header, w.HTML("<h4>Metrics</h4>"), self.metrics, w.HTML("<h4>Child runs</h4>"),
                           self.children, w.HTML("<h4>Logs</h4>"), self.logs])
        self.box.add_class("aml-run-details")
        self.data, self.html = data, ""
        self.update(data)

    def update(self, data: dict[str, Any], note: str = "") -> None:
        """Set each part's HTML (ipywidgets sends only the parts whose value changed)."""
        parts = (_render.header_html(data, note), _render.metrics_html(data), _render.children_html(data),
                 _render.logs_html(data))
        self.header.value, self.metrics.value, self.children.value, self.logs.value = parts
        self.data, self.html = data, _render.join_parts(*parts)

    @property
    def closed(self) -> bool:
        """Whether the widget was closed (its comm is gone): nothing left to refresh."""
        return getattr(self.box, "comm", None) is None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = dict(self.box._repr_mimebundle_(include=include, exclude=exclude) or {})
        bundle["text/html"] = self.html
        return bundle


class _Refresher(threading.Thread):
    """Polls the run and updates the view until the run ends, the view is closed or `stop()` is called."""

    def __init__(self, details: RunDetails, view: _View, handle: Any, settings: dict | None) -> None:
        super().__init__(name=f"RunDetails-{details.run_instance.id}", daemon=True)
        self._details, self._view, self._handle, self._settings = details, view, handle, settings
        self._stopped = threading.Event()
        self._poll_lock = threading.Lock()  # the thread and the end-of-cell catch-up poll one at a time
        self._last: tuple | None = None

    def start(self) -> None:
        """Start polling, and catch up at the end of every cell (see `_catch_up_after_cell`)."""
        _LIVE.add(self)
        _hook_cells()
        super().start()

    def stop(self) -> None:
        """Ask the thread to end (at once if it is waiting)."""
        self._stopped.set()
        _LIVE.discard(self)

    def poll_once(self, only_if_ended: bool = False) -> str:
        """Refresh the view once: 'ended' (the run or this refresher), 'changed', 'same' or 'failed'.

        With `only_if_ended`, first read just the run's status and refresh only when the run has ended.
        """
        # The end-of-cell catch-up waits for a refresh under way, but not for a server that hangs.
        if not self._poll_lock.acquire(timeout=_CATCH_UP_WAIT_S if only_if_ended else -1):
            return "same"
        try:
            return self._poll(only_if_ended)
        finally:
            self._poll_lock.release()

    def _poll(self, only_if_ended: bool) -> str:
        if self._stopped.is_set() or self._view.closed:
            return "ended"
        try:
            if only_if_ended and self._details.run_instance._refresh().status not in TERMINAL_STATUSES:
                return "same"
            data = self._details.get_widget_data(self._settings)
        except Exception as exc:  # noqa: BLE001 - a server hiccup must not kill the widget; say so and retry
            self._view.update(self._view.data, f"Could not refresh: {type(exc).__name__}: {exc}. Retrying.")
            return "failed"
        self._view.update(data)
        if data["is_terminal"]:
            if self._handle is not None:
                self._handle.update(self._view)  # the saved HTML copy shows the end, too
            self.stop()
            return "ended"
        state = (data["status"], data["run_metrics"], data["child_runs"], data["run_logs"])
        changed, self._last = state != self._last, state
        return "changed" if changed else "same"

    def run(self) -> None:
        interval = MIN_INTERVAL_S
        while not self._stopped.wait(interval):
            began = time.monotonic()
            outcome = self.poll_once()
            if outcome == "ended":
                return
            if outcome == "changed":
                interval = MIN_INTERVAL_S
            else:  # quiet or failing: wait longer each time, up to MAX_INTERVAL_S
                interval = min(interval * (2 if outcome == "failed" else _BACKOFF), MAX_INTERVAL_S)
            interval = max(interval, _COST_FACTOR * (time.monotonic() - began))


# Refreshers of runs still running, polled once more at the end of each cell (weak: a dropped widget goes).
_LIVE: "weakref.WeakSet[_Refresher]" = weakref.WeakSet()


def _catch_up_after_cell(*_: Any) -> None:
    """IPython's post_run_cell: each live widget refreshes once before the cell's end is reported.

    A message sent by the refresher thread between cells belongs to no cell, and a notebook runner
    (nbclient, papermill) drops it: a run that ended while a cell waited for it would be saved
    still showing Running. Polling here, inside the cell, saves the state the run ended in.
    """
    for refresher in list(_LIVE):
        refresher.poll_once(only_if_ended=True)  # a full refresh of a big run would slow every cell


def _hook_cells() -> None:
    """Register `_catch_up_after_cell` with the running IPython (once)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and _catch_up_after_cell not in shell.events.callbacks.get("post_run_cell", []):
        shell.events.register("post_run_cell", _catch_up_after_cell)
