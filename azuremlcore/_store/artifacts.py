"""The file artifact store: run files, snapshots and other blobs under one root folder.

Everything is addressed as (container, name): a container is a '/'-separated prefix such as
``<workspace id>/runs/<run id>``, a name a relative '/'-separated path. Writes go to a temporary
file first and are renamed into place, so a reader never sees half a file.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterator

from azuremlcore._store.errors import InvalidValueError, NotFoundError

_CHUNK = 1 << 20


# What file systems take: 255 bytes a name, 4,096 a path (Linux); control characters never.
MAX_NAME_BYTES, MAX_PATH_CHARS = 255, 1024


def clean_name(name: str) -> str:
    """A normalised relative artifact name; rejects absolute paths, '..', control characters and names
    longer than file systems hold (255 bytes a part, 1,024 characters in all) with a clear error."""
    text = str(name).replace("\\", "/")
    parts = [p for p in PurePosixPath(text).parts if p not in ("", ".")]
    if not parts or text.startswith("/") or ".." in parts:
        raise InvalidValueError(f"Invalid file name {name[:200]!r}: use a relative path like 'outputs/model.pkl' "
                                "without '..' or a leading '/'.")
    if len(text) > MAX_PATH_CHARS or any(len(p.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for p in parts) \
            or any(ord(c) < 32 or c == "\x7f" for c in text):
        raise InvalidValueError(f"Invalid file name {name[:60]!r}...: at most {MAX_NAME_BYTES} bytes a folder or "
                                f"file name and {MAX_PATH_CHARS} characters in all, without control characters.")
    return "/".join(parts)


class FileArtifactStore:
    """Artifacts as files in a folder (the embedded workspace's and the server's artifact root)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, container: str, name: str) -> Path:
        return self.root / container / clean_name(name)

    def put(self, container: str, name: str, source: str | os.PathLike[str] | BinaryIO | bytes) -> int:
        """Store a file from a path, a binary stream or bytes; returns its size. Overwrites."""
        dest = self._path(container, name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(source, (bytes, bytearray)):
                    out.write(source)
                elif isinstance(source, (str, os.PathLike)):
                    with open(source, "rb") as src:
                        shutil.copyfileobj(src, out, _CHUNK)
                else:
                    shutil.copyfileobj(source, out, _CHUNK)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest.stat().st_size

    def append(self, container: str, name: str, data: bytes) -> None:
        """Append to a file (log files written while a run goes on)."""
        dest = self._path(container, name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "ab") as out:
            out.write(data)

    def list(self, container: str, prefix: str | None = None) -> list[str]:
        """Names of the files in a container, sorted; only those under prefix when given."""
        base = self.root / container
        if not base.is_dir():
            return []
        names = []
        for dirpath, _dirs, files in os.walk(base):
            for f in files:
                if f.startswith(".upload-"):
                    continue
                rel = Path(dirpath, f).relative_to(base).as_posix()
                if prefix is None or rel.startswith(prefix.lstrip("/")):
                    names.append(rel)
        return sorted(names)

    def exists(self, container: str, name: str) -> bool:
        """Whether the file exists."""
        return self._path(container, name).is_file()

    def open(self, container: str, name: str) -> BinaryIO:
        """A binary stream of the file; NotFoundError when it is missing."""
        path = self._path(container, name)
        if not path.is_file():
            raise NotFoundError(f"File {name!r} does not exist.")
        return open(path, "rb")

    def read_from(self, container: str, name: str, offset: int) -> bytes:
        """The bytes of a file from offset on (b'' when missing): for tailing logs."""
        path = self._path(container, name)
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                return f.read()
        except FileNotFoundError:
            return b""

    def iter_chunks(self, container: str, name: str) -> Iterator[bytes]:
        """The file in chunks, for streaming without holding it in memory."""
        with self.open(container, name) as f:
            while chunk := f.read(_CHUNK):
                yield chunk

    def local_path(self, container: str, name: str) -> Path:
        """Where the file lives on this machine."""
        return self._path(container, name)

    def download(self, container: str, name: str, dest: str | os.PathLike[str]) -> Path:
        """Copy a file out to dest (parents created)."""
        src = self._path(container, name)
        if not src.is_file():
            raise NotFoundError(f"File {name!r} does not exist.")
        out = Path(dest)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out)
        return out

    def delete(self, container: str, name: str | None = None) -> None:
        """Delete one file, or the whole container when name is None."""
        if name is None:
            shutil.rmtree(self.root / container, ignore_errors=True)
        else:
            self._path(container, name).unlink(missing_ok=True)
