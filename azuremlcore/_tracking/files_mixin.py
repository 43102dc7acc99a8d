"""The run's files: upload, list, download, logs and source snapshots."""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from azuremlcore._store.artifacts import clean_name
from azuremlcore.exceptions import SnapshotException, UserErrorException

if TYPE_CHECKING:
    from azuremlcore._store.artifacts import FileArtifactStore

# The script's streamed output and the environment build log of a submitted run (Azure ML's names).
STREAMED_LOG = "user_logs/std_log.txt"
BUILD_LOG = "azureml-logs/20_image_build_log.txt"
LOG_PREFIXES = ("azureml-logs/", "logs/", "user_logs/", "system_logs/")


class RunFilesMixin:
    """Files stored with a run (its artifacts): names are '/'-separated relative paths."""

    id: str
    _ws_id: str
    _artifacts: "FileArtifactStore"

    @property
    def _container(self) -> str:
        return f"{self._ws_id}/runs/{self.id}"

    def upload_file(self, name: str, path_or_stream: str | os.PathLike[str] | BinaryIO,
                    datastore_name: str | None = None) -> dict[str, Any]:
        """Store a local file (or binary stream) with the run as `name`; an existing name is overwritten."""
        name = clean_name(name)
        if isinstance(path_or_stream, (str, os.PathLike)) and not os.path.isfile(path_or_stream):
            raise UserErrorException(f"upload_file('{name}', {str(path_or_stream)!r}): no such file.")
        from azuremlcore._tracking.spool_sender import offline, spool_file

        store = self._store  # type: ignore[attr-defined]
        if offline(store):  # the server did not answer the last try: keep it for later without waiting
            size = spool_file(store, self._artifacts, self.id, name, path_or_stream)
            return {"name": name, "size": size, "runId": self.id}
        try:
            size = self._artifacts.put(self._container, name, path_or_stream)
        except Exception as exc:  # noqa: BLE001 - only an unreachable server is kept for later
            from azuremlcore._tracking.spool_replay import unreachable
            from azuremlcore._tracking.spool_sender import spooled

            if not (spooled(store) and unreachable(exc)):
                raise
            size = spool_file(store, self._artifacts, self.id, name, path_or_stream)  # uploaded when it answers
        return {"name": name, "size": size, "runId": self.id}

    def upload_files(self, names: list[str], paths: list[str], return_artifacts: bool = False,
                     timeout_seconds: int | None = None, datastore_name: str | None = None) -> list[dict[str, Any]] | None:
        """Store several local files; `names[i]` is the name of `paths[i]`."""
        if len(names) != len(paths):
            raise UserErrorException(f"upload_files got {len(names)} names for {len(paths)} paths; give one name per path.")
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise UserErrorException(f"upload_files: no such file(s): {', '.join(map(str, missing[:5]))}.")
        out = [self.upload_file(n, p) for n, p in zip(names, paths)]
        return out if return_artifacts else None

    def upload_folder(self, name: str, path: str | os.PathLike[str], datastore_name: str | None = None) -> list[dict[str, Any]]:
        """Store every file under a local folder, under the prefix `name`."""
        root = Path(path)
        if not root.is_dir():
            raise UserErrorException(f"upload_folder('{name}', {str(path)!r}): no such folder.")
        prefix = clean_name(name)
        return [self.upload_file(f"{prefix}/{f.relative_to(root).as_posix()}", f)
                for f in sorted(root.rglob("*")) if f.is_file()]

    def get_file_names(self) -> list[str]:
        """Names of every file stored with the run, sorted."""
        return self._artifacts.list(self._container)

    def download_file(self, name: str, output_file_path: str | None = None, _validate_checksum: bool = False) -> None:
        """Copy a run file to `output_file_path` (a file or an existing folder); default `./<base name>`."""
        name = clean_name(name)
        if not self._artifacts.exists(self._container, name):
            names = self.get_file_names()
            hint = f" The run has: {', '.join(names[:20])}{' ...' if len(names) > 20 else ''}." if names else \
                " The run has no files."
            raise UserErrorException(f"File '{name}' is not stored with run {self.id}.{hint}")
        dest = Path(output_file_path) if output_file_path else Path(os.path.basename(name))
        if dest.is_dir():
            dest = dest / os.path.basename(name)
        self._artifacts.download(self._container, name, dest)

    def download_files(self, prefix: str | None = None, output_directory: str | None = None,
                       output_paths: list[str] | None = None, batch_size: int = 100, append_prefix: bool = True,
                       timeout_seconds: int | None = None) -> None:
        """Copy every run file under `prefix` (all when None) into `output_directory` (default '.').

        With `append_prefix=False` the prefix is stripped from the local paths.
        """
        names = self._artifacts.list(self._container, prefix)
        if output_paths is not None and len(output_paths) != len(names):
            raise UserErrorException(f"output_paths has {len(output_paths)} entries for {len(names)} files.")
        out_dir = Path(output_directory or ".")
        for i, name in enumerate(names):
            if output_paths is not None:
                dest = Path(output_paths[i])
            else:
                rel = name if append_prefix or not prefix else name[len(prefix):].lstrip("/")
                dest = out_dir / rel
            self._artifacts.download(self._container, name, dest)

    def get_all_logs(self, destination: str | None = None) -> list[str]:
        """Copy the run's log files into `destination` (default './logs'); returns their local paths."""
        out_dir = Path(destination or "logs")
        paths = []
        for name in self.get_file_names():
            if name.startswith(LOG_PREFIXES):
                dest = out_dir / name
                self._artifacts.download(self._container, name, dest)
                paths.append(str(dest))
        return paths

    # ------------------------------------------------------------------ snapshots
    def take_snapshot(self, file_or_folder_path: str) -> str:
        """Save a file or folder (honouring .amlignore / .gitignore) as the run's snapshot; returns its id."""
        from azuremlcore._snapshot import make_snapshot

        snapshot_id = str(uuid.uuid4())
        fd, tmp = tempfile.mkstemp(suffix=".zip")
        os.close(fd)
        try:
            make_snapshot(file_or_folder_path, tmp)
            self._artifacts.put(f"{self._ws_id}/snapshots", f"{snapshot_id}.zip", tmp)
        finally:
            os.unlink(tmp)
        self._store.update_run(self.id, details={"snapshotId": snapshot_id})  # type: ignore[attr-defined]
        return snapshot_id

    def get_snapshot_id(self) -> str | None:
        """The id of the run's latest snapshot (None when it has none)."""
        return self._store.get_run(self.id).details.get("snapshotId")  # type: ignore[attr-defined]

    def restore_snapshot(self, snapshot_id: str | None = None, path: str | None = None) -> str:
        """Write a snapshot (the run's latest by default) as a ZIP file into `path`; returns the ZIP's path."""
        snapshot_id = snapshot_id or self.get_snapshot_id()
        if not snapshot_id:
            raise SnapshotException(f"Run {self.id} has no snapshot: take one with run.take_snapshot(folder).")
        name = f"{snapshot_id}.zip"
        if not self._artifacts.exists(f"{self._ws_id}/snapshots", name):
            raise SnapshotException(f"Snapshot {snapshot_id} does not exist.")
        dest = Path(path or ".")
        if dest.suffix != ".zip":
            dest = dest / name
        self._artifacts.download(f"{self._ws_id}/snapshots", name, dest)
        return str(dest)
