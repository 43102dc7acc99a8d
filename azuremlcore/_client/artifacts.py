"""RestArtifactStore: FileArtifactStore's methods over HTTP, streaming both ways."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator

from azuremlcore._store.artifacts import clean_name
from azuremlcore._store.errors import NotFoundError

if TYPE_CHECKING:
    from azuremlcore._client.store import RestWorkspaceStore

_CHUNK = 1 << 20


class RestArtifactStore:
    """Run files and snapshots on a workspace server; `root` is a local cache for downloaded copies."""

    def __init__(self, store: "RestWorkspaceStore") -> None:
        from azuremlcore._store import azuremlcore_home

        self._store = store
        self._http = store.http
        tag = hashlib.sha256(store.url.encode()).hexdigest()[:12]
        self.root = azuremlcore_home() / "server-cache" / tag / "artifacts"

    def _where(self, container: str) -> tuple[str, dict[str, str]]:
        ws_id, _, rest = container.partition("/")
        return f"{self._store.ws_path(ws_id)}/files", {"container": rest}

    def put(self, container: str, name: str, source: "str | os.PathLike[str] | BinaryIO | bytes") -> int:
        """Upload a file from a path, a binary stream or bytes (streamed); returns its size."""
        path, params = self._where(container)
        params["name"] = clean_name(name)
        hdrs = {"Content-Type": "application/octet-stream"}
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as f:
                resp = self._http.request("PUT", path, params=params, data=f, headers=hdrs)
        else:
            resp = self._http.request("PUT", path, params=params, data=source, headers=hdrs)
        return int(resp.json()["size"])

    def append(self, container: str, name: str, data: bytes) -> None:
        """Append bytes to a file (log files)."""
        path, params = self._where(container)
        params["name"] = clean_name(name)
        self._http.request("POST", path + "/append", params=params, data=data,
                           headers={"Content-Type": "application/octet-stream"})

    def list(self, container: str, prefix: str | None = None) -> list[str]:
        """Names of the files in a container, sorted."""
        path, params = self._where(container)
        if prefix is not None:
            params["prefix"] = prefix
        return self._http.json("GET", path + "/list", params=params)

    def exists(self, container: str, name: str) -> bool:
        """Whether the file exists."""
        path, params = self._where(container)
        params["name"] = clean_name(name)
        return self._http.request("HEAD", path, params=params, ok404=True).status_code == 200

    def open(self, container: str, name: str) -> BinaryIO:
        """A binary stream of the file (read as it downloads); NotFoundError when missing."""
        path, params = self._where(container)
        params["name"] = clean_name(name)
        resp = self._http.request("GET", path, params=params, stream=True)
        resp.raw.decode_content = True
        return resp.raw  # type: ignore[return-value]

    def read_from(self, container: str, name: str, offset: int) -> bytes:
        """The bytes of a file from offset on (b'' when missing)."""
        path, params = self._where(container)
        params.update(name=clean_name(name), offset=str(offset))
        return self._http.request("GET", path + "/tail", params=params).content

    def iter_chunks(self, container: str, name: str) -> Iterator[bytes]:
        """The file in chunks, as they arrive."""
        path, params = self._where(container)
        params["name"] = clean_name(name)
        with self._http.request("GET", path, params=params, stream=True) as resp:
            yield from resp.iter_content(_CHUNK)

    def download(self, container: str, name: str, dest: "str | os.PathLike[str]") -> Path:
        """Download a file to dest (parents created), streamed through a temporary file."""
        out = Path(dest)
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".download-")
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in self.iter_chunks(container, name):
                    f.write(chunk)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return out

    def local_path(self, container: str, name: str) -> Path:
        """A local copy of the file, downloaded into the cache (a folder path for '.')."""
        target = self.root / container / clean_name(name) if name not in (".", "") else self.root / container
        if name in (".", ""):
            return target
        try:
            return self.download(container, name, target)
        except NotFoundError:
            return target

    def delete(self, container: str, name: str | None = None) -> None:
        """Delete one file, or the whole container when name is None (missing ones are ignored)."""
        path, params = self._where(container)
        if name is not None:
            params["name"] = clean_name(name)
        try:
            self._http.request("DELETE", path, params=params)
        except NotFoundError:
            pass
        shutil.rmtree(self.root / container, ignore_errors=True) if name is None else None
