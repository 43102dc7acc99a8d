"""The offline run `Run.get_context()` returns outside a submitted run: it prints what it is given.

A training script can thus run unchanged on a laptop: `run.log("alpha", 0.03)` prints
"Attempted to log scalar metric alpha:\n0.03" (Azure ML's wording) and nothing fails.
"""
from __future__ import annotations

import uuid
from typing import Any, Iterator

from azuremlcore._tracking import metric_checks as checks
from azuremlcore._tracking import metric_values as mv
from azuremlcore.exceptions import RunEnvironmentException


class _OfflineExperiment:
    """Stands in for the experiment of an offline run; it has no workspace."""

    name = "offline"
    id = "offline"

    @property
    def workspace(self) -> Any:
        raise RunEnvironmentException(
            "This is an offline run (the script was not submitted with Experiment.submit), so it has no "
            "workspace. Use Workspace.from_config() to open one.")


class OfflineRun:
    """A run that prints its metrics and keeps them in memory; `get_metrics()` returns them."""

    def __init__(self) -> None:
        self.id = f"OfflineRun_{uuid.uuid4()}"
        self.experiment = _OfflineExperiment()
        self.parent = None
        self.number = 0
        self.type = None
        self.status = "Running"
        self.tags: dict[str, str] = {}
        self.properties: dict[str, str] = {}
        self.display_name = self.id
        self._points: list[tuple[str, str, Any]] = []

    def _keep(self, name: str, kind: str, value: Any, what: str) -> None:
        mv.check_name(name)
        print(f"Attempted to log {what} metric {name}:\n{value}")
        self._points.append((name, kind, value))

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Print (and keep) a scalar metric; values are checked as a submitted run checks them."""
        checks.step(step, name)
        self._keep(name, "scalar", checks.scalar(value, name), "scalar")

    def log_list(self, name: str, value: list[Any], description: str = "") -> None:
        """Print (and keep) a list metric."""
        mv.check_name(name)
        values = checks.list_values(value, name)
        print(f"Attempted to log list metric {name}:\n{values}")
        self._points.extend((name, "list", v) for v in values)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Print (and keep) a table row."""
        self._keep(name, "row", checks.row(kwargs, name), "row")

    def log_table(self, name: str, value: dict[str, list[Any]], description: str = "") -> None:
        """Print (and keep) a table."""
        mv.check_name(name)
        rows = checks.table(value, name)
        print(f"Attempted to log table metric {name}:\n{value}")
        self._points.extend((name, "table", r) for r in rows)

    def log_image(self, name: str, path: str | None = None, plot: Any = None, description: str = "") -> None:
        """Print that an image would be logged."""
        self._keep(name, "image", path or "<plot>", "image")

    def log_confusion_matrix(self, name: str, value: Any, description: str = "") -> None:
        """Print (and keep) a confusion matrix."""
        self._keep(name, "confusion_matrix", value, "confusion matrix")

    def log_accuracy_table(self, name: str, value: Any, description: str = "") -> None:
        """Print (and keep) an accuracy table."""
        self._keep(name, "accuracy_table", value, "accuracy table")

    def log_residuals(self, name: str, value: Any, description: str = "") -> None:
        """Print (and keep) residuals."""
        self._keep(name, "residuals", value, "residuals")

    def log_predictions(self, name: str, value: Any, description: str = "") -> None:
        """Print (and keep) predictions."""
        self._keep(name, "predictions", value, "predictions")

    def get_metrics(self, name: str | None = None, recursive: bool = False, run_type: str | None = None,
                    populate: bool = False) -> dict[str, Any]:
        """What was logged, in get_metrics shapes."""
        out = mv.shape(p for p in self._points if name is None or p[0] == name)
        return {self.id: out} if recursive else out

    def tag(self, key: str, value: str | None = None) -> None:
        """Keep a tag."""
        self.tags[key] = "" if value is None else str(value)

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Keep tags."""
        self.tags.update({k: str(v) for k, v in tags.items()})

    def add_properties(self, properties: dict[str, Any]) -> None:
        """Keep properties."""
        self.properties.update({k: str(v) for k, v in properties.items()})

    def get_tags(self) -> dict[str, str]:
        """The tags kept."""
        return dict(self.tags)

    def get_properties(self) -> dict[str, str]:
        """The properties kept."""
        return dict(self.properties)

    def get_status(self) -> str:
        """The offline run's status."""
        return self.status

    def upload_file(self, name: str, path_or_stream: Any, datastore_name: str | None = None) -> None:
        """Print that a file would be uploaded (offline runs store nothing)."""
        print(f"Attempted to upload file {name} from {path_or_stream}")

    def upload_folder(self, name: str, path: str, datastore_name: str | None = None) -> None:
        """Print that a folder would be uploaded."""
        print(f"Attempted to upload folder {name} from {path}")

    def get_file_names(self) -> list[str]:
        """Offline runs store no files."""
        return []

    def get_children(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Offline runs have no children."""
        return iter(())

    def child_run(self, name: str | None = None, run_id: str | None = None, outputs: str | None = None) -> "OfflineRun":
        """Another offline run."""
        return OfflineRun()

    def create_children(self, count: int | None = None, tag_key: str | None = None,
                        tag_values: list[str] | None = None) -> list["OfflineRun"]:
        """Offline child runs."""
        return [OfflineRun() for _ in range(count or len(tag_values or []))]

    def get_secret(self, name: str) -> str:
        """Offline runs have no workspace: read the secret from an environment variable of that name instead."""
        import os

        if name in os.environ:
            return os.environ[name]
        raise RunEnvironmentException(f"Offline run: no workspace to read secret '{name}' from; set an environment "
                                      "variable of that name, or submit the script with Experiment.submit.")

    def flush(self, timeout_seconds: int = 300) -> None:
        """Nothing to flush."""

    def complete(self, _set_status: bool = True) -> None:
        """Mark the offline run Completed."""
        self.status = "Completed"

    def fail(self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True) -> None:
        """Mark the offline run Failed."""
        self.status = "Failed"

    def cancel(self) -> None:
        """Mark the offline run Canceled."""
        self.status = "Canceled"

    def __enter__(self) -> "OfflineRun":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.fail() if exc[1] is not None else self.complete()
