"""Source snapshots: a folder zipped as a run's snapshot, honouring `.amlignore` (else `.gitignore`)."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from azuremlcore.exceptions import SnapshotException

DEFAULT_LIMIT_BYTES = 300 * 1024 * 1024
IGNORE_FILES = (".amlignore", ".gitignore")


def _ignore_spec(root: Path):  # type: ignore[no-untyped-def]
    import pathspec

    for name in IGNORE_FILES:
        f = root / name
        if f.is_file():
            lines = f.read_text(encoding="utf-8").splitlines()
            try:
                return pathspec.PathSpec.from_lines("gitignore", lines)
            except LookupError:  # pathspec releases before the "gitignore" name only know "gitwildmatch"
                return pathspec.PathSpec.from_lines("gitwildmatch", lines)
    return None


def snapshot_files(source: str | os.PathLike[str]) -> list[tuple[Path, str]]:
    """(path, archive name) of every file a snapshot of `source` holds (a file, or a folder minus ignored files)."""
    root = Path(source)
    if root.is_file():
        return [(root, root.name)]
    if not root.is_dir():
        raise SnapshotException(f"Cannot snapshot {root}: no such file or folder.")
    spec = _ignore_spec(root)
    out = []
    for dirpath, dirs, files in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        if spec is not None:
            dirs[:] = [d for d in dirs if not spec.match_file((rel_dir / d).as_posix() + "/")]
        dirs[:] = [d for d in dirs if d not in ("__pycache__", ".git")]
        for f in files:
            rel = (rel_dir / f).as_posix()
            if spec is None or not spec.match_file(rel):
                out.append((Path(dirpath) / f, rel))
    return sorted(out, key=lambda x: x[1])


def make_snapshot(source: str | os.PathLike[str], dest_zip: str | os.PathLike[str],
                  limit_bytes: int | None = None) -> int:
    """Zip `source` into dest_zip; returns the bytes snapshotted. Too large → a clear SnapshotException."""
    limit = limit_bytes if limit_bytes is not None else int(os.environ.get("AZUREMLCORE_SNAPSHOT_LIMIT_BYTES",
                                                                           DEFAULT_LIMIT_BYTES))
    files = snapshot_files(source)
    total = sum(p.stat().st_size for p, _ in files)
    if total > limit:
        biggest = sorted(files, key=lambda x: -x[0].stat().st_size)[:3]
        names = ", ".join(f"{n} ({p.stat().st_size // 1024} KiB)" for p, n in biggest)
        raise SnapshotException(
            f"The snapshot of {source} is {total / 2**20:.1f} MiB, over the limit of {limit / 2**20:.0f} MiB. "
            f"Largest files: {names}. List data and outputs in a .amlignore file in that folder (same syntax as "
            ".gitignore), or keep data in a datastore.")
    with zipfile.ZipFile(dest_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, name in files:
            zf.write(path, name)
    return total
