"""Dataset sources: what a `path=` argument names, which files that is now, and getting them local.

A source is a JSON-able dict kept in the dataset's definition:
``{"datastore": name, "path": pattern}``, ``{"local": absolute pattern}`` or ``{"url": url}``.
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
    from azuremlcore.workspace import Workspace

_PATH_HELP = ("Pass path=(datastore, 'folder/*.csv'), a list of such tuples, datastore.path('folder'), "
              "a local path or glob, or an http(s) URL.")


def sources_from_path(path: Any) -> tuple[list[dict[str, Any]], "Workspace | None"]:
    """The sources a dataset `path=` argument names, and the workspace of its datastores (if any)."""
    from azuremlcore.data.azure_storage_datastore import AbstractAzureStorageDatastore
    from azuremlcore.data.data_reference import DataReference
    from azuremlcore.data.datapath import DataPath

    items = path if isinstance(path, list) else [path]
    if not items:
        raise UserErrorException(f"path= is empty. {_PATH_HELP}")
    out: list[dict[str, Any]] = []
    ws = None
    for item in items:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], AbstractAzureStorageDatastore):
            ds, pattern = item
            out.append({"datastore": ds.name, "path": globbing.normalise(str(pattern or ""))})
            ws = ds.workspace
        elif isinstance(item, DataPath):
            out.append({"datastore": item.datastore_name, "path": globbing.normalise(item.path_on_datastore or "")})
            ws = item._datastore.workspace
        elif isinstance(item, DataReference):
            out.append({"datastore": item.datastore.name, "path": globbing.normalise(item.path_on_datastore or "")})
            ws = item.datastore.workspace
        elif isinstance(item, (str, os.PathLike)):
            text = os.fspath(item)
            if text.startswith(("http://", "https://")):
                out.append({"url": text})
            elif "://" in text:
                raise UserErrorException(f"Unsupported path {text!r}: only http(s) URLs are read directly. {_PATH_HELP}")
            else:
                out.append({"local": os.path.abspath(os.path.expanduser(text))})
        else:
            raise UserErrorException(f"Unsupported path item {item!r}. {_PATH_HELP}")
    return out, ws


@dataclass(frozen=True)
class DataFile:
    """One file a dataset currently selects."""

    source: dict[str, Any]
    name: str      # datastore name of the file, absolute local path, or URL
    rel: str       # path relative to its source's base folder ('/'-separated)
    explicit: bool  # the source named exactly this one file


def _backend(ws: "Workspace | None", datastore: str) -> "StorageBackend":
    if ws is None:
        raise UserErrorException(f"This dataset reads datastore '{datastore}' but has no workspace: get it with "
                                 "Dataset.get_by_name(ws, name) or create it from (datastore, path).")
    from azuremlcore.datastore import Datastore

    return Datastore.get(ws, datastore)._backend()


def resolve(ws: "Workspace | None", sources: list[dict[str, Any]]) -> list[DataFile]:
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


def local_copy_free(ws: "Workspace | None", f: DataFile) -> Path | None:
    """The file's path on this machine when reading it needs no copy (local files, folder datastores)."""
    if "local" in f.source:
        return Path(f.name)
    if "datastore" in f.source:
        folder = _backend(ws, f.source["datastore"]).local_folder()
        if folder is not None:
            return folder / f.name
    return None


def copy_out(ws: "Workspace | None", f: DataFile, dest: Path) -> Path:
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


def readable_paths(ws: "Workspace | None", files: list[DataFile], scratch: Path) -> list[Path]:
    """A local path for every file, copying into scratch only the ones not already on this machine."""
    out = []
    for i, f in enumerate(files):
        path = local_copy_free(ws, f)
        out.append(path if path is not None else copy_out(ws, f, scratch / str(i) / Path(f.rel).name))
    return out


def materialise(ws: "Workspace | None", files: list[DataFile], target: Path, overwrite: bool,
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
