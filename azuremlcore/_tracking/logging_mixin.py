"""The run's metric logging family (`log`, `log_list`, `log_row`, `log_table`, ...) and `get_metrics`."""
from __future__ import annotations

import json
import os
import tempfile
import time
from typing import TYPE_CHECKING, Any

from azuremlcore._tracking import metric_checks as checks
from azuremlcore._tracking import metric_values as mv
from azuremlcore.exceptions import MetricValueError

if TYPE_CHECKING:
    from azuremlcore._tracking.metrics_writer import MetricsWriter


class RunLoggingMixin:
    """Metric logging for Run; values go to a background writer, never straight to the database."""

    id: str
    _record: Any
    _steps: dict[str, int]
    _writer: "MetricsWriter"

    def _emit(self, name: str, kind: str, value: float | None, value_json: str | None, step: int | None) -> None:
        if step is None:
            step = self._steps.get(name, 0)
        self._steps[name] = step + 1
        # A tuple in MetricPoint's field order: the writer turns batches of them into columns.
        self._writer.put_row((self.id, name, kind, value, value_json, int(step), int(time.time() * 1000)))

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log a number, bool or string; logging a name again makes it a list in `get_metrics`.

        Returns at once: values are stored by a background thread within a fraction of a second (see
        `flush`). Numpy scalars become numbers; None, lists and other types raise `MetricValueError`.
        """
        if value.__class__ is float and name.__class__ is str and name in self._steps and (
                step is None or step.__class__ is int):
            # A training loop's call: a float under a name already checked (every logged name is in _steps).
            if step is None:
                step = self._steps[name]
            self._steps[name] = step + 1
            self._writer.put_row((self._record.id, name, "scalar", value, None, step, int(time.time() * 1000)))
            return
        mv.check_name(name)
        num, js = mv.encode(checks.scalar(value, name))
        self._emit(name, "scalar", num, js, checks.step(step, name))

    def log_list(self, name: str, value: list[Any], description: str = "") -> None:
        """Log a list of values under one name (`get_metrics` returns it as a list; None elements stay None)."""
        mv.check_name(name)
        for v in checks.list_values(value, name):
            num, js = mv.encode(v)
            self._emit(name, "list", num, js, None)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Log one row of a table: `log_row("roc", fpr=0.1, tpr=0.7)`; rows add up to {column: [values]}."""
        mv.check_name(name)
        self._emit(name, "row", None, mv.encode_json(checks.row(kwargs, name), name), None)

    def log_table(self, name: str, value: dict[str, list[Any]], description: str = "") -> None:
        """Log a table given as {column: [values]}; every column must have the same length."""
        mv.check_name(name)
        for row in checks.table(value, name):
            self._emit(name, "table", None, mv.encode_json(row, name), None)

    def _log_document(self, name: str, kind: str, value: Any, schema_type: str) -> None:
        mv.check_name(name)
        doc = json.loads(value) if isinstance(value, str) else value
        if not isinstance(doc, dict):
            raise MetricValueError(f"{kind} '{name}' must be a dict (or its JSON text) with 'schema_type' and 'data'.")
        doc = {"schema_type": doc.get("schema_type", schema_type), "schema_version": doc.get("schema_version", "1.0.0"),
               "data": doc.get("data", {k: v for k, v in doc.items() if k not in ("schema_type", "schema_version")})}
        self._emit(name, kind, None, mv.encode_json(doc, name), None)

    def log_confusion_matrix(self, name: str, value: Any, description: str = "") -> None:
        """Log a confusion matrix document ({'schema_type': 'confusion_matrix', 'data': {...}})."""
        self._log_document(name, "confusion_matrix", value, "confusion_matrix")

    def log_accuracy_table(self, name: str, value: Any, description: str = "") -> None:
        """Log an accuracy table document ({'schema_type': 'accuracy_table', 'data': {...}})."""
        self._log_document(name, "accuracy_table", value, "accuracy_table")

    def log_residuals(self, name: str, value: Any, description: str = "") -> None:
        """Log a residuals histogram document ({'schema_type': 'residuals', 'data': {'bin_edges', 'bin_counts'}})."""
        self._log_document(name, "residuals", value, "residuals")

    def log_predictions(self, name: str, value: Any, description: str = "") -> None:
        """Log a predictions document ({'schema_type': 'predictions', 'data': {'bin_averages', ...}})."""
        self._log_document(name, "predictions", value, "predictions")

    def log_image(self, name: str, path: str | None = None, plot: Any = None, description: str = "") -> None:
        """Log an image from a file (`path=`) or a matplotlib figure/pyplot (`plot=`); stored as a run file.

        `get_metrics()` returns the image's address; `get_metrics(populate=True)` its local path.
        """
        mv.check_name(name)
        if (path is None) == (plot is None):
            raise MetricValueError(f"log_image('{name}') needs exactly one of path= or plot=.")
        if path is not None:
            if not os.path.isfile(path):
                raise MetricValueError(f"log_image('{name}', path={path!r}): no such file.")
            ext = os.path.splitext(path)[1] or ".png"
            artifact = f"{name}{ext}" if not name.endswith(ext) else name
            self.upload_file(artifact, path)  # type: ignore[attr-defined]
        else:
            artifact = f"{name}.png" if not name.endswith(".png") else name
            fd, tmp = tempfile.mkstemp(suffix=".png")
            os.close(fd)
            try:
                plot.savefig(tmp, format="png")
                self.upload_file(artifact, tmp)  # type: ignore[attr-defined]
            finally:
                os.unlink(tmp)
        self._emit(name, "image", None, json.dumps(f"aml://artifactId/ExperimentRun/dcid.{self.id}/{artifact}"), None)

    def flush(self, timeout_seconds: int = 300) -> None:
        """Wait until every metric logged so far is stored."""
        self._writer.flush(timeout_seconds)

    def _metrics_of(self, run_ids: list[str], name: str | None, populate: bool) -> dict[str, dict[str, Any]]:
        self.flush()
        per_run: dict[str, list[tuple[str, str, Any]]] = {rid: [] for rid in run_ids}
        for p in self._store.get_metrics(run_ids, name):  # type: ignore[attr-defined]
            value = mv.decode(p.value, p.value_json)
            if populate and p.kind == "image" and isinstance(value, str):
                value = str(self._artifacts.local_path(f"{self._ws_id}/runs/{p.run_id}",  # type: ignore[attr-defined]
                                                       value.rsplit(f"dcid.{p.run_id}/", 1)[-1]))
            per_run[p.run_id].append((p.key, p.kind, value))
        return {rid: mv.shape(points) for rid, points in per_run.items()}

    def get_metrics(self, name: str | None = None, recursive: bool = False, run_type: str | None = None,
                    populate: bool = False) -> dict[str, Any]:
        """Metrics of the run: {name: value} (a scalar when logged once, a list when logged more often,
        {column: [values]} for rows and tables). With `recursive=True`: {run_id: {name: value}} for this
        run and its descendants (of `run_type` if given)."""
        if not recursive:
            return self._metrics_of([self.id], name, populate)[self.id]
        runs = [self] + [r for r in self.get_children(recursive=True)  # type: ignore[attr-defined]
                         if run_type is None or r.type == run_type]
        return self._metrics_of([r.id for r in runs], name, populate)
