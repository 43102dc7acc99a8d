"""Making a file dataset's files available as a local folder: a mount where possible, else a download.

There is no FUSE here: a "mount" is the datastore's own folder when the dataset selects a whole
folder of an embedded datastore (read it, don't write it), and a download into a folder otherwise.
A dataset is given as its workspace (a `WorkspaceHandle`, or None), its definition and a function
listing its files now (the public dataset's `_files`, which also checks it may be read).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from azuremlcore._data import globbing

if TYPE_CHECKING:
    from azuremlcore._data.sources import DataFile
    from azuremlcore._store.handle import WorkspaceHandle

FileLister = Callable[[], "list[DataFile]"]


def direct_folder(ws: "WorkspaceHandle | None", definition: dict[str, Any]) -> Path | None:
    """The local folder (or file) that already is exactly the dataset, when there is one."""
    d = definition
    if d.get("transforms") or len(d["sources"]) != 1:
        return None
    src = d["sources"][0]
    if "local" in src:
        pattern = src["local"]
        if not globbing.has_glob(pattern) or pattern.endswith(("/**", "/**/*")):
            for suffix in ("/**/*", "/**"):  # str.removesuffix needs 3.9; jobs run on 3.8 too
                if pattern.endswith(suffix):
                    pattern = pattern[: -len(suffix)]
            return Path(pattern)
        return None
    if "datastore" not in src or ws is None:
        return None
    pattern = src["path"]
    whole = not globbing.has_glob(pattern) or pattern.endswith(("/**", "/**/*")) or pattern in ("**", "")
    if not whole:
        return None
    from azuremlcore._data import datastores

    folder = datastores.backend(ws, src["datastore"]).local_folder()
    if folder is None:
        return None
    rel = globbing.base_of(pattern)
    return folder / rel if rel else folder


def provide(ws: "WorkspaceHandle | None", definition: dict[str, Any], list_files: FileLister, mode: str,
            target: Path | None, allow_direct: bool = True) -> str:
    """A local path of the dataset's files for a run or a mount: a folder, or the file of a one-file dataset."""
    files = list_files()
    single = len(files) == 1 and files[0].explicit
    if mode == "mount" and allow_direct:
        direct = direct_folder(ws, definition)
        if direct is not None and direct.exists():
            return str(direct)
    root = target or Path(tempfile.mkdtemp(prefix="azureml-dataset-"))
    from azuremlcore._data.sources import materialise

    paths = materialise(ws, files, root, overwrite=True)
    return str(paths[0]) if single else str(root)


class MountContext:
    """What `FileDataset.mount()` returns: `with ds.mount() as ctx: ctx.mount_point` (a local folder)."""

    def __init__(self, ws: "WorkspaceHandle | None", definition: dict[str, Any], list_files: FileLister,
                 mount_point: str | None) -> None:
        self._ws, self._definition, self._list_files = ws, definition, list_files
        self._requested = mount_point
        self._mount_point: str | None = None
        self._temporary = False

    @property
    def mount_point(self) -> str:
        """The folder holding the dataset's files (started on first use)."""
        if self._mount_point is None:
            self.start()
        return self._mount_point  # type: ignore[return-value]

    def start(self) -> None:
        """Make the files available: the datastore's folder itself where possible, else a download (no FUSE here)."""
        import warnings

        direct = direct_folder(self._ws, self._definition) if self._requested is None else None
        if direct is not None and direct.is_dir():
            self._mount_point = str(direct)
            return
        warnings.warn("FUSE mounts are not available in azuremlcore: the dataset's files are downloaded to "
                      f"{self._requested or 'a temporary folder'} instead (removed by stop()).", stacklevel=3)
        target = Path(self._requested) if self._requested else Path(tempfile.mkdtemp(prefix="azureml-mount-"))
        self._temporary = self._requested is None
        from azuremlcore._data.sources import materialise

        materialise(self._ws, self._list_files(), target, overwrite=True)
        self._mount_point = str(target)

    def stop(self) -> None:
        """Release the files (a temporary download is removed)."""
        import shutil

        if self._temporary and self._mount_point:
            shutil.rmtree(self._mount_point, ignore_errors=True)
        self._mount_point = None

    def __enter__(self) -> "MountContext":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __fspath__(self) -> str:
        return self.mount_point

    def __str__(self) -> str:
        return self.mount_point
