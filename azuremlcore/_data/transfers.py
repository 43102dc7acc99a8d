"""Moving many files to or from a storage backend: in parallel, with a progress bar, skipping existing ones."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from azuremlcore._data.backends import StorageBackend

WORKERS = 4  # parallel transfers; blob round trips dominate, local copies don't mind


def join(*parts: str | None) -> str:
    """'/'-join datastore path parts, dropping empty ones and '.' (backslashes become '/')."""
    return "/".join(p.strip("/").replace("\\", "/") for p in parts if p and p.strip("/") not in ("", "."))


def transfer(jobs: list[tuple[Any, ...]], fn: Callable[..., Any], desc: str, show_progress: bool) -> None:
    """Call fn(*job) for every job, several at once, ticking a progress bar."""
    from azuremlcore._data.progress import Progress

    with Progress(len(jobs), desc, show_progress) as bar:
        def one(job: tuple[Any, ...]) -> None:
            fn(*job)
            bar.update()

        if len(jobs) <= 1:
            for job in jobs:
                one(job)
            return
        with ThreadPoolExecutor(WORKERS) as pool:
            for fut in [pool.submit(one, j) for j in jobs]:
                fut.result()


def put_many(backend: "StorageBackend", jobs: list[tuple[Path, str]], overwrite: bool, show_progress: bool,
             label: str) -> None:
    """Upload (local path, name) pairs; names that exist are skipped (and counted aloud) unless overwrite."""
    if not overwrite:
        existing = set(backend.list(""))
        skipped = [n for _, n in jobs if n in existing]
        jobs = [(p, n) for p, n in jobs if n not in existing]
        if skipped and show_progress:
            print(f"Skipped {len(skipped)} file(s) already in datastore '{label}' (pass overwrite=True "
                  "to replace them).")
    transfer(jobs, lambda p, n: backend.put_file(n, p), f"Uploading to {label}", show_progress)


def folder_jobs(root: Path, target_path: str | None) -> list[tuple[Path, str]]:
    """(file, name under target_path) for every file under a local folder, sorted."""
    return [(p, join(target_path, p.relative_to(root).as_posix())) for p in sorted(root.rglob("*")) if p.is_file()]
