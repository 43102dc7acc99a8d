"""Making a file dataset's files available as a local folder: a mount where possible, else a download.

There is no FUSE here: a "mount" is the datastore's own folder when the dataset selects a whole
folder of an embedded datastore (read it, don't write it), and a download into a folder otherwise.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore._data import globbing

if TYPE_CHECKING:
    from azuremlcore.data.file_dataset import FileDataset


def direct_folder(dataset: "FileDataset") -> Path | None:
    """The local folder (or file) that already is exactly the dataset, when there is one."""
    d = dataset._definition
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
    if "datastore" not in src or dataset._workspace is None:
        return None
    pattern = src["path"]
    whole = not globbing.has_glob(pattern) or pattern.endswith(("/**", "/**/*")) or pattern in ("**", "")
    if not whole:
        return None
    from azuremlcore.datastore import Datastore

    folder = Datastore.get(dataset._workspace, src["datastore"])._backend().local_folder()
    if folder is None:
        return None
    rel = globbing.base_of(pattern)
    return folder / rel if rel else folder


def provide(dataset: "FileDataset", mode: str, target: Path | None, allow_direct: bool = True) -> str:
    """A local path of the dataset's files for a run or a mount: a folder, or the file of a one-file dataset."""
    files = dataset._files()
    single = len(files) == 1 and files[0].explicit
    if mode == "mount" and allow_direct:
        direct = direct_folder(dataset)
        if direct is not None and direct.exists():
            return str(direct)
    root = target or Path(tempfile.mkdtemp(prefix="azureml-dataset-"))
    from azuremlcore._data.sources import materialise

    paths = materialise(dataset._workspace, files, root, overwrite=True)
    return str(paths[0]) if single else str(root)


class MountContext:
    """What `FileDataset.mount()` returns: `with ds.mount() as ctx: ctx.mount_point` (a local folder)."""

    def __init__(self, dataset: "FileDataset", mount_point: str | None) -> None:
        self._dataset, self._requested = dataset, mount_point
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

        direct = direct_folder(self._dataset) if self._requested is None else None
        if direct is not None and direct.is_dir():
            self._mount_point = str(direct)
            return
        warnings.warn("FUSE mounts are not available in azuremlcore: the dataset's files are downloaded to "
                      f"{self._requested or 'a temporary folder'} instead (removed by stop()).", stacklevel=3)
        target = Path(self._requested) if self._requested else Path(tempfile.mkdtemp(prefix="azureml-mount-"))
        self._temporary = self._requested is None
        from azuremlcore._data.sources import materialise

        materialise(self._dataset._workspace, self._dataset._files(), target, overwrite=True)
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
