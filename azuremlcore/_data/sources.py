"""Dataset sources: which files a source selects now, and getting them onto this machine.

A source is a JSON-able dict kept in the dataset's definition:
``{"datastore": name, "path": pattern}``, ``{"local": absolute pattern}`` or ``{"url": url}``.
Datastore sources are read through the workspace (a `WorkspaceHandle`) whose datastore they name.
(Turning a user's `path=` argument into sources is the public layer's job: `azuremlcore.data._sources`.)
"""
from __future__ import annotations

import glob
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore._data import globbing
from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore._data.backends import StorageBackend
    from azuremlcore._store.handle import WorkspaceHandle


@dataclass(frozen=True)
class DataFile:
    """One file a dataset currently selects."""

    source: dict[str, Any]
    name: str      # datastore name of the file, absolute local path, or URL
    rel: str       # path relative to its source's base folder ('/'-separated)
    explicit: bool  # the source named exactly this one file


def _backend(ws: "WorkspaceHandle | None", datastore: str) -> "StorageBackend":
    if ws is None:
        raise UserErrorException(f"This dataset reads datastore '{datastore}' but has no workspace: get it with "
                                 "Dataset.get_by_name(ws, name) or create it from (datastore, path).")
    from azuremlcore._data import datastores

    return datastores.backend(ws, datastore)


def resolve(ws: "WorkspaceHandle | None", sources: list[dict[str, Any]]) -> list[DataFile]:
    """The files the sources select now, in order; an error when a source selects nothing."""
    files: list[DataFile] = []
    for src in sources:
        if "datastore" in src:
            pattern = src["path"]
            backend = _backend(ws, src["datastore"])
            prefix = globbing.static_prefix(pattern)
            names = globbing.select(backend.list(prefix), pattern)
            base = globbing.base_of(pattern)
            explicit = not globbing.has_glob(pattern) and names == [pattern.rstrip("/")]
            if explicit:
                base = pattern.rsplit("/", 1)[0] if "/" in pattern else ""
            where = f"datastore '{src['datastore']}'"
            found = [DataFile(src, n, globbing.relative_to(n, base), explicit) for n in names]
        elif "local" in src:
            pattern = src["local"]
            if globbing.has_glob(pattern):
                paths = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
                base = _local_base(pattern)
                explicit = False
            elif os.path.isdir(pattern):
                paths = sorted(str(p) for p in Path(pattern).rglob("*") if p.is_file())
                base, explicit = pattern, False
            else:
                paths = [pattern] if os.path.isfile(pattern) else []
                base, explicit = os.path.dirname(pattern), True
            where = "this machine"
            found = [DataFile(src, p, Path(os.path.relpath(p, base)).as_posix(), explicit) for p in paths]
        else:
            url = src["url"]
            where = "the web"
            found = [DataFile(src, url, url.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "data", True)]
        if not found:
            what = src.get("path") or src.get("local") or src.get("url")
            raise UserErrorException(f"No files match {what!r} on {where}. Check the path (patterns like "
                                     "'folder/*.csv' or 'folder/**'), or upload the data first.")
        files.extend(found)
    return files


def _local_base(pattern: str) -> str:
    parts = Path(pattern).parts
    fixed = []
    for p in parts[:-1]:
        if globbing.has_glob(p):
            break
        fixed.append(p)
    return str(Path(*fixed)) if fixed else os.sep


def local_copy_free(ws: "WorkspaceHandle | None", f: DataFile) -> Path | None:
    """The file's path on this machine when reading it needs no copy (local files, folder datastores)."""
    if "local" in f.source:
        return Path(f.name)
    if "datastore" in f.source:
        folder = _backend(ws, f.source["datastore"]).local_folder()
        if folder is not None:
            return folder / f.name
    return None


def copy_out(ws: "WorkspaceHandle | None", f: DataFile, dest: Path) -> Path:
    """Copy one file to dest (parents created)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if "datastore" in f.source:
        _backend(ws, f.source["datastore"]).get_file(f.name, dest)
    elif "local" in f.source:
        shutil.copyfile(f.name, dest)
    else:
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            with urllib.request.urlopen(f.name, timeout=60) as resp, open(tmp, "wb") as out:  # noqa: S310 - http(s) only
                shutil.copyfileobj(resp, out)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
    return dest


def readable_paths(ws: "WorkspaceHandle | None", files: list[DataFile], scratch: Path) -> list[Path]:
    """A local path for every file, copying into scratch only the ones not already on this machine."""
    out = []
    for i, f in enumerate(files):
        path = local_copy_free(ws, f)
        out.append(path if path is not None else copy_out(ws, f, scratch / str(i) / Path(f.rel).name))
    return out


def materialise(ws: "WorkspaceHandle | None", files: list[DataFile], target: Path, overwrite: bool,
                show_progress: bool = False) -> list[Path]:
    """Copy the files into target, each at its relative path; existing files kept unless overwrite."""
    from azuremlcore._data.progress import Progress

    out = []
    with Progress(len(files), "Downloading dataset", show_progress) as bar:
        for f in files:
            dest = target / f.rel
            if overwrite or not dest.exists():
                copy_out(ws, f, dest)
            out.append(dest)
            bar.update()
    return out
