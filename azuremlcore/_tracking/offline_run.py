"""The offline run `Run.get_context()` returns outside a submitted run: it prints what it is given.

A training script can thus run unchanged on a laptop: `run.log("alpha", 0.03)` prints
"Attempted to log scalar metric alpha:\n0.03" (Azure ML's wording) and nothing fails. With
$AZUREML_OFFLINE_DIR set, the run is also kept on disk, as a spool (`spool.py`) in
`$AZUREML_OFFLINE_DIR/<run id>/`: metrics with their timestamps, tags, properties, uploaded files
and its end; `aml sync --path DIR -w WS -e EXP` uploads it into a workspace as an ordinary run.
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from azuremlcore._tracking import metric_checks as checks
from azuremlcore._tracking import metric_values as mv
from azuremlcore._tracking.spool import OFFLINE_DIR_ENV
from azuremlcore.exceptions import RunEnvironmentException

if TYPE_CHECKING:
    from azuremlcore._tracking.spool import Spool

# Appends are fsynced at most this often (and at the run's end): a crash loses at most this much.
_SYNC_EVERY_S = 0.5


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
        self._steps: dict[str, int] = {}
        self._spool: "Spool | None" = None
        self._synced = 0.0
        folder = os.environ.get(OFFLINE_DIR_ENV)
        if folder:
            self._keep_on_disk(Path(folder))

    # ------------------------------------------------------------------ kept on disk ($AZUREML_OFFLINE_DIR)
    def _keep_on_disk(self, folder: Path) -> None:
        import getpass
        import socket

        from azuremlcore._tracking.spool import Spool

        now = int(time.time() * 1000)
        self._spool = Spool(folder / self.id, header={
            "run_id": self.id, "offline": True, "created_time": now, "display_name": self.display_name,
            "host": socket.gethostname(), "pid": os.getpid(), "user": getpass.getuser()})
        print(f"Offline run {self.id}: kept in {folder / self.id} (upload it with: aml sync --path {folder} "
              "-w WORKSPACE -e EXPERIMENT)")
        atexit.register(self._at_exit)
        previous = sys.excepthook

        def failed(*exc_info: Any) -> None:  # an uncaught exception ends the run Failed, as in a job
            if self.status == "Running":
                self._end("Failed")
            previous(*exc_info)

        sys.excepthook = failed

    def _record(self, record: dict[str, Any], sync: bool = False) -> None:
        if self._spool is None:
            return
        self._spool.append(record)
        now = time.monotonic()
        if sync or now - self._synced > _SYNC_EVERY_S:
            self._spool.sync()
            self._synced = now

    def _record_points(self, name: str, kind: str, values: list[Any], step: int | None = None) -> None:
        if self._spool is None:
            return
        rows = []
        ts = int(time.time() * 1000)
        for v in values:
            s = self._steps.get(name, 0) if step is None else step
            self._steps[name] = s + 1
            if kind in ("scalar", "list"):
                num, js = mv.encode(v)
            else:
                num, js = None, mv.encode_json(v, name)
            from azuremlcore._tracking.spool import encode_value

            rows.append([name, kind, encode_value(num), js, int(s), ts])
        self._record({"t": "metrics", "rows": rows})

    def _end(self, status: str) -> None:
        self.status = status
        self._record({"t": "status", "status": status, "end_time": int(time.time() * 1000)}, sync=True)

    def _at_exit(self) -> None:
        if self._spool is None:
            return
        if self.status == "Running":  # the script ended without complete(): as a submitted run would
            self._end("Completed")
        self._spool.close()

    def _keep(self, name: str, kind: str, value: Any, what: str, step: int | None = None) -> None:
        mv.check_name(name)
        print(f"Attempted to log {what} metric {name}:\n{value}")
        self._points.append((name, kind, value))
        self._record_points(name, kind, [value], step)

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Print (and keep) a scalar metric; values are checked as a submitted run checks them."""
        step = checks.step(step, name)
        self._keep(name, "scalar", checks.scalar(value, name), "scalar", step)

    def log_list(self, name: str, value: list[Any], description: str = "") -> None:
        """Print (and keep) a list metric."""
        mv.check_name(name)
        values = checks.list_values(value, name)
        print(f"Attempted to log list metric {name}:\n{values}")
        self._points.extend((name, "list", v) for v in values)
        self._record_points(name, "list", list(values))

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Print (and keep) a table row."""
        self._keep(name, "row", checks.row(kwargs, name), "row")

    def log_table(self, name: str, value: dict[str, list[Any]], description: str = "") -> None:
        """Print (and keep) a table."""
        mv.check_name(name)
        rows = checks.table(value, name)
        print(f"Attempted to log table metric {name}:\n{value}")
        self._points.extend((name, "table", r) for r in rows)
        self._record_points(name, "table", list(rows))

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
        self.set_tags({key: "" if value is None else value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Keep tags."""
        values = {str(k): "" if v is None else str(v) for k, v in tags.items()}
        self.tags.update(values)
        self._record({"t": "attrs", "kind": "tag", "values": values})

    def add_properties(self, properties: dict[str, Any]) -> None:
        """Keep properties."""
        values = {str(k): str(v) for k, v in properties.items()}
        self.properties.update(values)
        self._record({"t": "attrs", "kind": "property", "values": values, "write_once": True})

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
        """Print that a file would be uploaded; with $AZUREML_OFFLINE_DIR, keep a copy to upload at `aml sync`."""
        print(f"Attempted to upload file {name} from {path_or_stream}")
        if self._spool is None:
            return
        from azuremlcore._store.artifacts import clean_name

        name = clean_name(name)
        copy = f"files/{self._spool.next_n}-{os.path.basename(name)}"
        target = self._spool.folder / copy
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(path_or_stream, (str, os.PathLike)):
            shutil.copyfile(path_or_stream, target)
        else:
            with open(target, "wb") as out:
                shutil.copyfileobj(path_or_stream, out)
        self._record({"t": "file", "name": name, "copy": copy}, sync=True)

    def upload_folder(self, name: str, path: str, datastore_name: str | None = None) -> None:
        """Print that a folder would be uploaded; with $AZUREML_OFFLINE_DIR, keep copies of its files."""
        print(f"Attempted to upload folder {name} from {path}")
        if self._spool is not None:
            root = Path(path)
            for f in sorted(root.rglob("*")):
                if f.is_file():
                    self.upload_file(f"{name.rstrip('/')}/{f.relative_to(root).as_posix()}", str(f))

    def get_file_names(self) -> list[str]:
        """The names of the files kept (none unless $AZUREML_OFFLINE_DIR is set)."""
        if self._spool is None:
            return []
        return sorted({r["name"] for r in self._spool.records() if r.get("t") == "file"})

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
        """Make what was kept on disk durable (nothing to do without $AZUREML_OFFLINE_DIR)."""
        if self._spool is not None:
            self._spool.sync()

    def complete(self, _set_status: bool = True) -> None:
        """Mark the offline run Completed."""
        self._end("Completed")

    def fail(self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True) -> None:
        """Mark the offline run Failed."""
        self._end("Failed")

    def cancel(self) -> None:
        """Mark the offline run Canceled."""
        self._end("Canceled")

    def __enter__(self) -> "OfflineRun":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.fail() if exc[1] is not None else self.complete()
